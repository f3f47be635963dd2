"""Events made of parts: a state visit and its talks, signing and meetings.

On the event page, on the timeline (folded into the visit's card, or apart), and in calendar
feeds, where a part names its whole with RELATED-TO only while the whole is published.
"""

import datetime as dt
import re

import icalendar
import pytest
import vobject
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from timeline.feeds import ical, store
from timeline.feeds import publishing as feeds
from timeline.models import Event, Feed

from .admin_forms import change_form_data
from .factories import AgreementFactory, EventFactory, PlaceFactory
from .parsers import PARSERS
from .related_to import related_with_icaljs
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db

NOV = dt.date(2025, 11, 11)


@pytest.fixture
def visit():
    """A two-day state visit in Moscow with three parts, recorded out of order."""
    moscow = PlaceFactory(name="Moscow", country="RU", timezone="Europe/Moscow")
    whole = EventFactory(
        title="State visit to Russia",
        kind="visit",
        place=moscow,
        start_date=NOV,
        end_date=NOV + dt.timedelta(days=1),
    )
    for title, kind, day, hour in (
        ("Signing of the declaration", "signing", 12, 13),
        ("Talks in narrow format", "talks", 12, 10),
        ("Wreath laying", "meeting", 11, 16),
    ):
        EventFactory(
            title=title,
            kind=kind,
            place=moscow,
            part_of=whole,
            precision="minute",
            start_date=dt.date(2025, 11, day),
            start_time=dt.time(hour),
        )
    return whole


def titles_in_order(text: str, titles: list[str]) -> bool:
    positions = [text.index(title) for title in titles]
    return positions == sorted(positions)


def cards(text: str) -> list[str]:
    """Return the HTML of each top-level card of the timeline, in order."""
    return re.split(r'<li class="card ', text)[1:]


# --- validation -------------------------------------------------------------------------------
def errors_of(event) -> dict:
    with pytest.raises(ValidationError) as caught:
        event.full_clean()
    return caught.value.message_dict


def test_a_part_falls_within_the_dates_of_its_whole(visit):
    part = visit.parts.first()
    part.start_date = NOV + dt.timedelta(days=2)
    assert "A part must fall within the dates" in errors_of(part)["part_of"][0]
    part.start_date = NOV
    part.full_clean()


def test_an_event_is_not_part_of_itself_or_of_its_own_parts(visit):
    part = visit.parts.first()
    visit.part_of = part
    message = "An event cannot be part of itself or of one of its own parts."
    assert message in errors_of(visit)["part_of"]
    visit.part_of = visit
    assert message in errors_of(visit)["part_of"]


def test_admin_refuses_a_part_outside_its_whole(client, superuser, visit):
    log_in_verified(client, superuser)
    stray = EventFactory(title="Later meeting", start_date=dt.date(2025, 12, 1))
    url = reverse("admin:timeline_event_change", args=[stray.pk])
    data = change_form_data(client.get(url))
    data["part_of"] = str(visit.pk)
    response = client.post(url, data)
    assert response.status_code == 200
    assert (
        "A part must fall within the dates of the event it is part of" in response.content.decode()
    )
    stray.refresh_from_db()
    assert stray.part_of is None


def test_admin_lists_a_whole_s_parts_in_order_each_linked(client, superuser, visit):
    log_in_verified(client, superuser)
    page = client.get(reverse("admin:timeline_event_change", args=[visit.pk])).content.decode()
    listed = page[page.index('<ul class="parts">') :]
    listed = listed[: listed.index("</ul>")]
    titles = re.findall(r'<a href="/admin/timeline/event/\d+/change/">([^<]+)</a>', listed)
    assert titles == ["Wreath laying", "Talks in narrow format", "Signing of the declaration"]


# --- the event page ---------------------------------------------------------------------------
def test_visit_page_lists_its_published_parts_in_time_order(client, visit):
    EventFactory(title="Draft dinner", part_of=visit, published=False)
    text = client.get(visit.get_absolute_url()).content.decode()
    assert "Parts of this event" in text
    assert titles_in_order(
        text, ["Wreath laying", "Talks in narrow format", "Signing of the declaration"]
    )
    assert "11 Nov 2025, 16:00" in text and "Europe/Moscow" in text
    assert "Talks" in text  # the kind of a part
    assert "Draft dinner" not in text


def test_part_page_links_its_whole_only_when_published(client, visit):
    part = visit.parts.get(kind="talks")
    text = client.get(part.get_absolute_url()).content.decode()
    assert f'Part of <a href="{visit.get_absolute_url()}">State visit to Russia</a>' in text
    visit.published = False
    visit.save()
    text = client.get(part.get_absolute_url()).content.decode()
    assert "State visit to Russia" not in text and "Part of" not in text


def test_part_of_is_written_in_the_readers_language(client, visit):
    visit.title_ru = "Государственный визит в Россию"
    visit.save()
    part = visit.parts.get(kind="talks")
    text = client.get(f"/ru/events/{part.slug}/").content.decode()
    assert f'href="/ru/events/{visit.slug}/">Государственный визит в Россию</a>' in text


def test_event_page_links_the_agreements_signed_at_it(client, visit):
    signing = visit.parts.get(kind="signing")
    AgreementFactory(title="Declaration on alliance", signed_at=signing)
    AgreementFactory(title="Draft memorandum", signed_at=signing, published=False)
    text = client.get(signing.get_absolute_url()).content.decode()
    assert "Agreements signed at this event" in text
    assert "Declaration on alliance" in text and "/en/agreements/agreement-" in text
    assert "Draft memorandum" not in text
    assert (
        "Agreements signed at this event"
        not in client.get(visit.get_absolute_url()).content.decode()
    )


# --- the timeline -----------------------------------------------------------------------------
def test_timeline_folds_parts_into_the_visit_card(client, visit):
    EventFactory(title="Unrelated forum", start_date=dt.date(2025, 11, 20))
    text = client.get("/en/").content.decode()
    shown = cards(text)
    assert len(shown) == 2  # the forum and the visit, the parts inside the visit's card
    (visit_card,) = [card for card in shown if "State visit to Russia" in card]
    assert titles_in_order(
        visit_card, ["Wreath laying", "Talks in narrow format", "Signing of the declaration"]
    )
    assert 'class="parts"' in visit_card
    assert '<a href="?parts=separate">Show parts separately</a>' in text


def test_parts_shown_separately_on_request_and_the_choice_kept(client, visit):
    text = client.get("/en/", {"parts": "separate", "order": "oldest"}).content.decode()
    shown = cards(text)
    assert len(shown) == 4
    assert all('class="parts"' not in card for card in shown)
    talks = next(card for card in shown if "Talks in narrow format" in card)
    assert "Part of" in talks and visit.get_absolute_url() in talks
    # Kept by the filter form, the language switcher and the way back.
    assert '<input type="hidden" name="parts" value="separate">' in text
    assert 'href="/ru/?parts=separate&amp;order=oldest"' in text
    assert "Show parts inside the event they are part of" in text
    assert 'href="?order=oldest"' in text


def test_parts_choice_kept_across_pages(client, visit):
    for number in range(60):
        EventFactory(start_date=dt.date(2024, 1, 1) + dt.timedelta(days=number))
    text = client.get("/en/", {"parts": "separate"}).content.decode()
    assert 'href="?parts=separate&amp;page=2"' in text


def test_filters_apply_to_parts(client, visit):
    text = client.get("/en/", {"kind": "talks"}).content.decode()
    (only,) = cards(text)
    assert "Talks in narrow format" in only and "Part of" in only
    assert "Wreath laying" not in text
    assert "Show parts separately" not in text  # nothing to fold
    text = client.get("/en/", {"kind": "visit"}).content.decode()
    (only,) = cards(text)
    assert "State visit to Russia" in only and "Talks in narrow format" not in only


def test_a_part_of_a_draft_stands_alone(client, visit):
    visit.published = False
    visit.save()
    text = client.get("/en/").content.decode()
    assert len(cards(text)) == 3
    assert "Part of" not in text and "State visit to Russia" not in text


# --- query counts -----------------------------------------------------------------------------
def count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(path).status_code == 200
    return len(context.captured_queries)


def visit_with_parts(count: int) -> Event:
    place = PlaceFactory()
    whole = EventFactory(
        kind="visit", place=place, start_date=NOV, end_date=NOV + dt.timedelta(days=2)
    )
    for number in range(count):
        EventFactory(
            kind="meeting",
            place=place,
            part_of=whole,
            precision="minute",
            start_date=NOV + dt.timedelta(days=number % 3),
            start_time=dt.time(8 + number % 12, number % 60),
        )
    return whole


def test_pages_queries_do_not_grow_with_parts(client):
    small = visit_with_parts(5)
    few_on_timeline = count_queries(client, "/en/")
    few_on_page = count_queries(client, small.get_absolute_url())
    large = visit_with_parts(50)
    assert count_queries(client, large.get_absolute_url()) == few_on_page
    Event.objects.filter(pk=small.pk).update(published=False)
    assert count_queries(client, "/en/") == few_on_timeline
    assert count_queries(client, "/en/?parts=separate") == few_on_timeline


# --- calendar feeds ---------------------------------------------------------------------------
def feed_body(key: str = "en/all") -> bytes:
    feed = feeds.publish(key)
    assert isinstance(feed, Feed)
    return store.read(feed.body_name)


def related(body: bytes) -> dict[str, tuple[str, str] | None]:
    """Return each VEVENT's RELATED-TO (value, RELTYPE) by UID, read by icalendar."""
    calendar = icalendar.Calendar.from_ical(body)
    found: dict[str, tuple[str, str] | None] = {}
    for vevent in calendar.walk("VEVENT"):
        value = vevent.get("RELATED-TO")
        found[str(vevent["UID"])] = (str(value), value.params.get("RELTYPE")) if value else None
    return found


def related_with_vobject(body: bytes) -> dict[str, tuple[str, str] | None]:
    calendar = vobject.readOne(body.decode())
    found: dict[str, tuple[str, str] | None] = {}
    for vevent in calendar.contents.get("vevent", []):
        lines = vevent.contents.get("related-to")
        found[vevent.uid.value] = (lines[0].value, lines[0].params["RELTYPE"][0]) if lines else None
    return found


def test_parts_name_their_published_whole_in_feeds(client, visit):
    body = client.get("/feeds/all.ics").content
    expected = {str(part.uid): (str(visit.uid), "PARENT") for part in visit.parts.all()}
    expected[str(visit.uid)] = None
    assert related(body) == expected
    assert related_with_vobject(body) == expected
    assert related_with_icaljs(body) == expected
    for parse in PARSERS.values():
        assert len(parse(body)) == 4  # parts keep their own entries
    assert f"RELATED-TO;RELTYPE=PARENT:{visit.uid}".encode() in body


def test_a_draft_whole_is_never_named_and_publishing_it_updates_cached_parts(client, visit):
    feed_body()  # every VEVENT cached with the whole published
    visit.published = False
    visit.save()
    body = feed_body()
    assert str(visit.uid).encode() not in body
    assert set(related(body).values()) == {None}
    visit.published = True
    visit.save(update_fields=["published", "updated_at"])
    body = feed_body()
    assert list(related(body).values()).count((str(visit.uid), "PARENT")) == 3


def test_moving_a_part_out_or_deleting_its_whole_drops_the_relation(client, visit):
    feed_body()
    part = visit.parts.get(kind="talks")
    part.part_of = None
    part.save()
    assert related(feed_body())[str(part.uid)] is None
    visit.delete()
    body = feed_body()
    assert str(visit.uid).encode() not in body
    assert set(related(body).values()) == {None}
    assert len(related(body)) == 3


def test_single_event_calendar_of_a_part(client, visit):
    part = visit.parts.get(kind="talks")
    body = client.get(f"/events/{part.slug}.ics").content
    assert related(body) == {str(part.uid): (str(visit.uid), "PARENT")}


def test_ical_writes_related_to_only_for_a_part():
    moment = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
    fields = dict(
        uid="part@x",
        sequence=0,
        summary="Talks",
        status="CONFIRMED",
        start=NOV,
        end=NOV + dt.timedelta(days=1),
        timezone="UTC",
        created=moment,
        last_modified=moment,
    )
    assert b"RELATED-TO" not in ical.render_event(ical.CalendarEvent(**fields))
    part = ical.render_event(ical.CalendarEvent(**fields, parent_uid="whole@x"))
    assert b"\r\nRELATED-TO;RELTYPE=PARENT:whole@x\r\n" in part


def test_parts_get_reminders_as_any_event(visit):
    reminded = set(Event.objects.getting_reminders().values_list("pk", flat=True))
    assert set(visit.parts.values_list("pk", flat=True)) <= reminded
