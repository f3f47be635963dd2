"""Importing events through the admin (upload, dry run, confirm) and exporting them again."""

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import strip_tags
from reversion.models import Version

from timeline.models import Event, ImportBatch

from .factories import EventFactory, FigureFactory, MetricFactory, TopicFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:timeline_event_import")
CHANGELIST = reverse("admin:timeline_event_changelist")
HEADER = "slug,kind,precision,start_date,title_en\n"


def text_of(response) -> str:
    """Return a page's text as a reader sees it: no tags, entities read, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(strip_tags(response.content.decode())))


def upload(client, content: bytes | str, name: str = "events.csv", **fields):
    data = content.encode() if isinstance(content, str) else content
    form = {"language": "en", "timezone": "Asia/Almaty", "encoding": "", **fields}
    return client.post(IMPORT_URL, {**form, "file": SimpleUploadedFile(name, data)})


def dry_run_url(batch: ImportBatch) -> str:
    return reverse("admin:timeline_event_dry_run", args=[batch.pk])


def confirm_url(batch: ImportBatch) -> str:
    return reverse("admin:timeline_event_import_confirm", args=[batch.pk])


def digest_on(page) -> str:
    return re.search(r'name="digest" value="([0-9a-f]+)"', page.content.decode()).group(1)


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
def viewer(db) -> User:
    """Staff who may look at events but neither add nor change them."""
    user = User.objects.create_user("vera", "vera@example.com", "pw-123-staff", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_event"))
    return user


@pytest.fixture
def record(db) -> dict[str, Event]:
    """Two recorded events a file can name: one it changes, one it gives as it is."""
    return {
        "talks": EventFactory(
            slug="talks", title="Talks", kind="meeting", start_date=dt.date(2025, 11, 11)
        ),
        "summit": EventFactory(
            slug="summit", title="Summit", kind="summit", start_date=dt.date(2025, 10, 1)
        ),
    }


FOUR_KINDS = (
    HEADER
    + "talks,meeting,day,2025-11-11,Talks in Astana\n"
    + "summit,summit,day,2025-10-01,Summit\n"
    + "new-forum,meeting,day,2026-03-02,Energy forum\n"
    + "bad-date,meeting,day,2025-13-40,Broken row\n"
)


def uploaded(client, content=FOUR_KINDS, name="events.csv") -> ImportBatch:
    response = upload(client, content, name)
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == dry_run_url(batch)
    return batch


def test_without_add_and_change_permission_every_import_page_is_forbidden(client, viewer, editor):
    client.force_login(editor)
    batch = uploaded(client, HEADER + "new-forum,meeting,day,2026-03-02,Forum\n")
    client.force_login(viewer)
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, FOUR_KINDS).status_code == 403
    assert client.get(reverse("admin:timeline_event_import_template")).status_code == 403
    assert client.get(dry_run_url(batch)).status_code == 403
    assert client.post(confirm_url(batch), {"digest": "x"}).status_code == 403
    changelist = client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert IMPORT_URL not in changelist.content.decode()
    assert ImportBatch.objects.count() == 1 and not Event.objects.exists()


def test_the_changelist_links_to_import_beside_add(client, editor):
    client.force_login(editor)
    page = client.get(CHANGELIST).content.decode()
    tools = page[page.index('<ul class="object-tools">') :]
    tools = tools[: tools.index("</ul>")]
    assert f'href="{IMPORT_URL}"' in tools
    assert reverse("admin:timeline_event_add") in tools


def test_the_upload_form_explains_matching_and_offers_the_template(client, editor):
    client.force_login(editor)
    page = client.get(IMPORT_URL)
    shown = text_of(page)
    assert "matched to the record by their UID" in shown
    assert "by their uid column, else by their slug" in shown
    assert "Recurring events (RRULE, RDATE) are refused" in shown
    assert "Nothing is written before you confirm" in shown
    assert 'value="Asia/Almaty"' in page.content.decode()
    template = client.get(reverse("admin:timeline_event_import_template"))
    assert template["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="timeline-events-template.csv"' in template["Content-Disposition"]
    assert "slug" in template.content.decode("utf-8-sig").splitlines()[0]


def test_the_language_of_untagged_texts_defaults_to_the_admins(client, editor):
    client.force_login(editor)
    page = client.get(IMPORT_URL, headers={"accept-language": "ru"}).content.decode()
    assert re.search(r'<option value="ru" selected>', page)


def test_a_file_over_the_limit_is_refused_by_the_form_saying_the_limit(client, editor, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    client.force_login(editor)
    response = upload(client, HEADER + "x" * (1024 * 1024))
    assert response.status_code == 200
    assert "The file is larger than the limit of 1 MB." in text_of(response)
    assert not ImportBatch.objects.exists()


def test_a_file_of_no_known_format_is_refused_by_the_form(client, editor):
    client.force_login(editor)
    response = upload(client, b"%PDF-1.7", name="events.pdf")
    assert response.status_code == 200
    assert "neither an iCalendar (.ics) nor a CSV (.csv) file" in text_of(response)
    assert not ImportBatch.objects.exists()


def test_a_bad_time_zone_is_refused_by_the_form(client, editor):
    client.force_login(editor)
    response = upload(client, FOUR_KINDS, timezone="Almaty")
    assert "is not an IANA time zone name" in text_of(response)
    assert not ImportBatch.objects.exists()


def test_the_dry_run_shows_every_row_with_its_values_and_writes_nothing(client, editor, record):
    client.force_login(editor)
    batch = uploaded(client)
    assert (batch.filename, batch.format, batch.language) == ("events.csv", "csv", "en")
    assert batch.timezone == "Asia/Almaty" and batch.user == editor
    page = client.get(dry_run_url(batch))
    shown = text_of(page)
    for outcome in ("New", "Changed", "Unchanged", "Refused"):
        assert f"{outcome}: 1" in shown
    assert "Talks → Talks in Astana" in shown  # the changed field, old and new
    assert "Energy forum" in shown and "2026-03-02" in shown  # the new row's values
    assert "2025-13-40" in shown  # the refused row's offending value
    assert 'value="Confirm: import these events"' in page.content.decode()
    assert Event.objects.count() == 2
    record["talks"].refresh_from_db()
    assert record["talks"].title == "Talks"


def test_confirming_writes_the_dry_run_and_says_what_it_did(client, editor, record):
    client.force_login(editor)
    batch = uploaded(client)
    response = client.post(
        confirm_url(batch), {"digest": digest_on(client.get(dry_run_url(batch)))}
    )
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    record["talks"].refresh_from_db()
    assert record["talks"].title == "Talks in Astana"
    forum = Event.objects.get(slug="new-forum")
    assert forum.title == "Energy forum" and not forum.published
    assert not Event.objects.filter(slug="bad-date").exists()
    landed = client.get(response["Location"])
    assert "Imported 1 new and 1 changed events from events.csv." in text_of(landed)
    assert "Energy forum" in text_of(landed)


def test_a_second_confirmation_of_the_same_file_writes_nothing(client, editor, record):
    client.force_login(editor)
    batch = uploaded(client)
    digest = digest_on(client.get(dry_run_url(batch)))
    assert client.post(confirm_url(batch), {"digest": digest})["Location"] == CHANGELIST
    versions = Version.objects.count()
    updated = Event.objects.get(slug="talks").updated_at
    again = client.post(confirm_url(batch), {"digest": digest}, follow=True)
    assert "Nothing more was written: events.csv was imported already." in text_of(again)
    assert again.redirect_chain[-1][0] == dry_run_url(batch)
    assert "Confirm: import these events" not in again.content.decode()
    assert "This file was imported on" in text_of(again)
    assert Version.objects.count() == versions
    assert Event.objects.count() == 3
    assert Event.objects.get(slug="talks").updated_at == updated


def test_a_record_changed_since_the_dry_run_sends_the_editor_back_to_it(client, editor, record):
    client.force_login(editor)
    batch = uploaded(client)
    digest = digest_on(client.get(dry_run_url(batch)))
    record["talks"].title = "Talks, renamed meanwhile"
    record["talks"].save()
    response = client.post(confirm_url(batch), {"digest": digest}, follow=True)
    assert response.redirect_chain[-1][0] == dry_run_url(batch)
    shown = text_of(response)
    assert "changed since this dry run: nothing was imported" in shown
    assert "Talks, renamed meanwhile → Talks in Astana" in shown
    assert not Event.objects.filter(slug="new-forum").exists()


def test_confirm_takes_only_a_post(client, editor, record):
    client.force_login(editor)
    batch = uploaded(client)
    assert client.get(confirm_url(batch)).status_code == 405
    assert Event.objects.count() == 2


def test_another_editor_can_neither_see_nor_confirm_an_upload(client, editor, record):
    client.force_login(editor)
    batch = uploaded(client)
    digest = digest_on(client.get(dry_run_url(batch)))
    other = User.objects.create_user("otto", "otto@example.com", "pw-otto-123", is_staff=True)
    other.groups.set(editor.groups.all())
    client.force_login(other)
    assert client.get(IMPORT_URL).status_code == 200  # an editor, as able to import
    assert client.get(dry_run_url(batch)).status_code == 404
    assert client.post(confirm_url(batch), {"digest": digest}).status_code == 404
    assert not Event.objects.filter(slug="new-forum").exists()


def test_a_refused_file_is_said_to_be_refused_whole(client, editor):
    client.force_login(editor)
    batch = uploaded(client, HEADER + "forum,meeting,day,2026-03-02,Forum\x00\n")
    page = client.get(dry_run_url(batch))
    shown = text_of(page)
    assert "The whole file is refused: nothing from it was imported." in shown
    assert "NUL characters" in shown and "At line 2 of events.csv." in shown
    assert IMPORT_URL in page.content.decode()
    assert "Confirm" not in page.content.decode()
    response = client.post(confirm_url(batch), {"digest": "whatever"})
    assert "The whole file is refused" in text_of(response)
    assert not Event.objects.exists()


def test_a_file_with_nothing_to_write_offers_no_confirmation(client, editor, record):
    client.force_login(editor)
    batch = uploaded(client, HEADER + "summit,summit,day,2025-10-01,Summit\n")
    page = client.get(dry_run_url(batch))
    shown = text_of(page)
    assert "Unchanged: 1" in shown
    assert "Nothing to import" in shown and "Confirm" not in page.content.decode()


def test_an_editor_who_may_not_publish_is_told_so_on_the_row(client, editor):
    client.force_login(editor)
    header = "slug,kind,precision,start_date,title_en,published\n"
    batch = uploaded(client, header + "forum,meeting,day,2026-03-02,Forum,yes\n")
    shown = text_of(client.get(dry_run_url(batch)))
    assert "You may not publish or unpublish events: it stays a draft." in shown


# --- exports ---------------------------------------------------------------------------------
def test_the_admin_exports_exactly_what_the_changelist_shows(client, editor):
    client.force_login(editor)
    EventFactory(slug="summit-draft", title="Summit draft", kind="summit", published=False)
    EventFactory(slug="summit-out", title="Summit out", kind="summit")
    EventFactory(slug="talks", title="Talks", kind="meeting")
    changelist = client.get(CHANGELIST, {"kind__exact": "summit", "q": "Summit"})
    csv_link = reverse("admin:timeline_event_export", args=["csv"])
    assert f"{csv_link}?" in changelist.content.decode()
    filters = {"kind__exact": "summit", "q": "Summit"}
    exported = client.get(csv_link, filters)
    assert exported["Content-Type"] == "text/csv; charset=utf-8"
    assert re.search(
        r'attachment; filename="timeline-events-\d{4}-\d\d-\d\d\.csv"',
        exported["Content-Disposition"],
    )
    assert sorted(row["slug"] for row in csv_rows(exported)) == ["summit-draft", "summit-out"]
    ics = client.get(reverse("admin:timeline_event_export", args=["ics"]), {"published__exact": 1})
    assert ics["Content-Type"] == "text/calendar; charset=utf-8"
    body = ics.content.decode()
    assert "Summit out" in body and "Talks" in body and "Summit draft" not in body


def test_the_admin_exports_selected_events(client, editor):
    client.force_login(editor)
    chosen = EventFactory(slug="chosen", title="Chosen")
    EventFactory(slug="left", title="Left")
    response = client.post(
        CHANGELIST, {"action": "export_selected_csv", "_selected_action": [chosen.pk]}
    )
    assert [row["slug"] for row in csv_rows(response)] == ["chosen"]
    response = client.post(
        CHANGELIST, {"action": "export_selected_ics", "_selected_action": [chosen.pk]}
    )
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Chosen" in response.content.decode() and "Left" not in response.content.decode()


def test_an_exported_file_imports_again_as_unchanged(client, editor):
    client.force_login(editor)
    EventFactory(slug="talks", title="Talks")
    exported = client.get(reverse("admin:timeline_event_export", args=["csv"]))
    upload(client, exported.content, name="back.csv")
    shown = text_of(client.get(dry_run_url(ImportBatch.objects.get())))
    assert "Unchanged: 1" in shown and "New: 0" in shown and "Changed: 0" in shown


def test_the_public_files_follow_the_timelines_filters_and_hold_no_drafts(client):
    energy = TopicFactory(slug="energy", name="Energy")
    draft_whole = EventFactory(slug="secret-visit", title="Secret visit", published=False)
    part = EventFactory(slug="energy-talks", title="Energy talks", part_of=draft_whole)
    draft = EventFactory(slug="energy-draft", title="Energy draft", published=False)
    other = EventFactory(slug="other", title="Other business")
    part.topics.add(energy)
    draft.topics.add(energy)
    page = client.get("/en/", {"topic": "energy", "order": "oldest", "page": "1"}).content.decode()
    assert 'href="/en/events.csv?topic=energy"' in page
    assert 'href="/en/events.ics?topic=energy"' in page

    csv_response = client.get(reverse("timeline:events-csv"), {"topic": "energy"})
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_response["Content-Disposition"].startswith("attachment; ")
    [row] = csv_rows(csv_response)
    assert row["slug"] == "energy-talks"
    assert row["part_of"] == ""  # the whole is a draft: the file does not name it
    assert "secret-visit" not in csv_response.content.decode()

    ics_response = client.get(reverse("timeline:events-ics"), {"topic": "energy"})
    assert ics_response["Content-Type"] == "text/calendar; charset=utf-8"
    assert ics_response["Content-Disposition"].startswith("attachment; ")
    body = ics_response.content.decode()
    assert "Energy talks" in body
    assert "Energy draft" not in body and "Other business" not in body
    assert str(draft_whole.uid) not in body

    everything = csv_rows(client.get(reverse("timeline:events-csv")))
    assert sorted(row["slug"] for row in everything) == ["energy-talks", other.slug]


def test_a_published_whole_is_named_in_the_public_file(client):
    whole = EventFactory(slug="state-visit", title="State visit")
    EventFactory(slug="signing", title="Signing", part_of=whole)
    rows = {row["slug"]: row for row in csv_rows(client.get(reverse("timeline:events-csv")))}
    assert rows["signing"]["part_of"] == "state-visit"


def test_the_metric_admin_links_to_its_figures_csv(client, superuser):
    from .two_factor import log_in_verified

    log_in_verified(client, superuser)
    metric = MetricFactory()
    url = reverse("admin:timeline_metric_change", args=[metric.pk])
    csv_url = reverse("timeline:metric-csv", args=[metric.slug])
    assert csv_url not in client.get(url).content.decode()  # nothing published: it would 404
    FigureFactory(metric=metric)
    page = client.get(url)
    assert f'href="{csv_url}"' in page.content.decode()
    assert "Download figures CSV" in text_of(page)
    assert client.get(csv_url).status_code == 200
