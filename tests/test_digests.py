"""Digests: one mail a day or a week at the reader's own time, across clock changes, of what is
new, what changed and what is coming up; exactly one per period; over real SMTP.

Time moves as in the other notification tests: every step takes the moment it runs at (`now`).
"""

import datetime as dt
import re

import pytest
from django.core.mail import get_connection
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from timeline import l10n, tasks, timing
from timeline.models import DigestItem, Event, News, Notification, Subscriber
from timeline.notifications import digests, dispatch, links, mail, scheduling, services
from timeline.notifications.forms import BAD_DIGEST_TIME, NO_DIGEST_TIME

from .factories import EventFactory, PlaceFactory, SubscriberFactory
from .notify_helpers import topic

pytestmark = pytest.mark.django_db
Kind, State = Notification.Kind, Notification.State
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(text: str) -> dt.datetime:
    """Return a UTC moment written '2027-02-01 03:00'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def on_digest(email: str, *follows, news=News.DAILY, time=dt.time(8, 0), weekday=0, **fields):
    """Return a confirmed subscriber on a digest who follows *follows*."""
    fields.setdefault("timezone", "Asia/Almaty")
    fields.setdefault("lead_times", [])
    fields.setdefault("digest_since", LONG_AGO)
    return SubscriberFactory(
        email=email,
        news=news,
        digest_time=time,
        digest_weekday=weekday,
        follows=list(follows),
        **fields,
    )


def event_at(followed, start: dt.datetime, title: str, zone="Asia/Almaty", **fields) -> Event:
    """Return an event starting at the UTC moment *start*, in *zone*, carrying *followed*."""
    local = start.astimezone(timing.zone(zone))
    event = EventFactory(
        title=title,
        place=PlaceFactory(name="Astana", timezone=zone),
        precision=timing.MINUTE,
        start_date=local.date(),
        start_time=local.time(),
        **fields,
    )
    event.topics.add(followed)
    return event


def edit(event: Event, now: dt.datetime, **changes) -> Event:
    event = Event.objects.get(pk=event.pk)
    for name, value in changes.items():
        setattr(event, name, value)
    event.save()
    scheduling.sync_event(event.pk, now=now)
    return event


def moved_to(event: Event, start: dt.datetime) -> dict:
    local = start.astimezone(timing.zone(event.zone))
    return {"start_date": local.date(), "start_time": local.time()}


def run(now: dt.datetime) -> None:
    """Do what beat and the dispatcher do at *now*."""
    digests.create_due(now)
    dispatch.dispatch_due(now=now)


def to(smtp, address: str) -> list:
    return smtp.to(address)


def text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def subject(message) -> str:
    return str(message["Subject"]).strip()


def digest_rows(**filters) -> list[tuple[str, dt.datetime]]:
    rows = Notification.objects.filter(kind=Kind.DIGEST, **filters).order_by("due_at")
    return [(row.key, row.due_at) for row in rows]


# --- when ------------------------------------------------------------------------------------
def test_daily_digests_come_at_each_readers_own_time(smtp):
    energy = topic()
    event_at(energy, at("2027-02-01 09:00"), "Signing")
    scheduling.sync_changed_events(now=at("2027-01-20 00:00"))
    since = at("2027-02-01 00:00")
    almaty = on_digest("almaty@example.com", energy, timezone="Asia/Almaty", digest_since=since)
    moscow = on_digest("moscow@example.com", energy, timezone="Europe/Moscow", digest_since=since)

    run(at("2027-02-01 02:59:59"))  # 07:59:59 in Almaty (UTC+5)
    assert smtp.messages == []
    run(at("2027-02-01 03:00"))
    assert [m["To"] for m in smtp.messages] == [almaty.email]
    run(at("2027-02-01 04:59:59"))  # 07:59:59 in Moscow (UTC+3)
    run(at("2027-02-01 05:00"))
    assert [m["To"] for m in smtp.messages] == [almaty.email, moscow.email]
    assert digest_rows(subscriber=almaty) == [("daily:2027-02-01", at("2027-02-01 03:00"))]
    assert digest_rows(subscriber=moscow) == [("daily:2027-02-01", at("2027-02-01 05:00"))]


def walk(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> None:
    """Run the digest maker every *step*; each row appears at the first run from its moment."""
    now = start
    while now < end:
        before = set(Notification.objects.filter(kind=Kind.DIGEST).values_list("pk", flat=True))
        digests.create_due(now)
        for row in Notification.objects.filter(kind=Kind.DIGEST).exclude(pk__in=before):
            assert now - step < row.due_at <= now, (row.key, row.due_at, now)
        now += step


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        # Spring forward on 28 March: 02:30 never happens, so it comes at 03:30 CEST.
        (
            "2027-03-26",
            [
                ("daily:2027-03-26", at("2027-03-26 01:30")),
                ("daily:2027-03-27", at("2027-03-27 01:30")),
                ("daily:2027-03-28", at("2027-03-28 01:30")),
                ("daily:2027-03-29", at("2027-03-29 00:30")),
                ("daily:2027-03-30", at("2027-03-30 00:30")),
            ],
        ),
        # Fall back on 31 October: 02:30 happens twice; the first (CEST) is the one.
        (
            "2027-10-29",
            [
                ("daily:2027-10-29", at("2027-10-29 00:30")),
                ("daily:2027-10-30", at("2027-10-30 00:30")),
                ("daily:2027-10-31", at("2027-10-31 00:30")),
                ("daily:2027-11-01", at("2027-11-01 01:30")),
                ("daily:2027-11-02", at("2027-11-02 01:30")),
            ],
        ),
    ],
)
def test_one_daily_digest_a_day_across_the_clock_changes(first, expected):
    start = at(f"{first} 00:00")
    reader = on_digest(
        "berlin@example.com",
        topic(),
        timezone="Europe/Berlin",
        time=dt.time(2, 30),
        digest_since=start,
    )
    walk(start, start + dt.timedelta(days=5), dt.timedelta(minutes=20))
    assert digest_rows(subscriber=reader) == expected


@pytest.mark.parametrize(
    ("first", "time", "expected"),
    [
        # Sundays at 02:30 in New York; on 14 March 02:30 is skipped (03:30 EDT).
        (
            "2027-03-01",
            dt.time(2, 30),
            [
                ("weekly:2027-W09", at("2027-03-07 07:30")),
                ("weekly:2027-W10", at("2027-03-14 07:30")),
                ("weekly:2027-W11", at("2027-03-21 06:30")),
                ("weekly:2027-W12", at("2027-03-28 06:30")),
            ],
        ),
        # Sundays at 01:30; on 7 November it happens twice: the first, in EDT.
        (
            "2027-10-25",
            dt.time(1, 30),
            [
                ("weekly:2027-W43", at("2027-10-31 05:30")),
                ("weekly:2027-W44", at("2027-11-07 05:30")),
                ("weekly:2027-W45", at("2027-11-14 06:30")),
                ("weekly:2027-W46", at("2027-11-21 06:30")),
            ],
        ),
    ],
)
def test_one_weekly_digest_a_week_across_the_clock_changes(first, time, expected):
    start = at(f"{first} 00:00")
    reader = on_digest(
        "ny@example.com",
        topic(),
        news=News.WEEKLY,
        weekday=6,
        timezone="America/New_York",
        time=time,
        digest_since=start,
    )
    walk(start, start + dt.timedelta(days=28), dt.timedelta(hours=1))
    assert digest_rows(subscriber=reader) == expected


def test_weekly_digests_in_almaty_and_moscow(smtp):
    energy = topic()
    event_at(energy, at("2027-02-03 04:00"), "Forum")  # 09:00 in Almaty, 07:00 in Moscow
    scheduling.sync_changed_events(now=at("2027-01-20 00:00"))
    since = at("2027-02-01 00:00")
    almaty = on_digest(
        "almaty@example.com", energy, news=News.WEEKLY, weekday=0, digest_since=since
    )
    moscow = on_digest(
        "moscow@example.com",
        energy,
        news=News.WEEKLY,
        weekday=2,  # Wednesdays at 08:00: after the forum has begun, so nothing to say
        timezone="Europe/Moscow",
        digest_since=since,
    )
    for day in range(14):
        run(at("2027-02-01 03:00") + dt.timedelta(days=day))
        run(at("2027-02-01 05:00") + dt.timedelta(days=day))

    assert [subject(m) for m in to(smtp, almaty.email)] == ["Your weekly digest: 1–7 Feb 2027"]
    assert to(smtp, moscow.email) == []
    assert digest_rows(subscriber=almaty) == [
        ("weekly:2027-W05", at("2027-02-01 03:00")),
        ("weekly:2027-W06", at("2027-02-08 03:00")),
    ]
    assert digest_rows(subscriber=moscow, state=State.SKIPPED) == [
        ("weekly:2027-W05", at("2027-02-03 05:00")),
        ("weekly:2027-W06", at("2027-02-10 05:00")),
    ]


# --- what ------------------------------------------------------------------------------------
@pytest.fixture
def week_of_news():
    """Events a reader follows: one coming up, one new to them, one that moved."""
    energy = topic()
    summit = event_at(energy, at("2027-02-10 05:00"), "Summit")
    signing = event_at(energy, at("2027-02-01 09:00"), "Signing", status="tentative")
    talks = event_at(energy, at("2027-02-06 05:00"), "Talks", published=False)
    scheduling.sync_changed_events(now=at("2027-01-20 00:00"))
    return energy, summit, signing, talks


def test_a_digest_tells_what_was_added_what_changed_and_what_is_coming_up(
    smtp, settings, week_of_news
):
    settings.SITE_URL = "https://timeline.example.org"
    energy, summit, signing, talks = week_of_news
    since = at("2027-02-01 00:00")
    english = on_digest("en@example.com", energy, language="en", digest_since=since)
    russian = on_digest(
        "ru@example.com", energy, language="ru", timezone="Europe/Moscow", digest_since=since
    )
    before = {code: summit.when_in(code) for code in ("en", "ru")}
    talks = edit(talks, at("2027-01-31 12:00"), published=True)
    summit = edit(summit, at("2027-01-31 13:00"), **moved_to(summit, at("2027-02-12 05:00")))

    run(at("2027-02-01 03:00"))
    run(at("2027-02-01 05:00"))

    (message,) = to(smtp, english.email)
    assert subject(message) == "Your daily digest: 1 Feb 2027"
    body = text(message)
    reader_time = {e.pk: mail.times(e, "Asia/Almaty", "en")["reader"] for e in (talks, signing)}
    assert f"New events\n\n- Talks\n  When: {reader_time[talks.pk]}\n" in body
    assert f"  https://timeline.example.org/en/events/{talks.slug}/" in body
    moved = gettext("Moved: was %(old)s, now %(new)s")
    assert f"Changed\n\n- Summit\n  {moved % {'old': before['en'], 'new': summit.when}}" in body
    until = l10n.moment(at("2027-02-02 03:00"), "Asia/Almaty", "en")
    assert f"Coming up until {until} (Asia/Almaty)\n" in body
    assert f"- {reader_time[signing.pk]}: Signing (Tentative)\n" in body
    assert "Talks" not in body.partition("Coming up")[2]  # not before this digest's period ends
    page = message.get_body(("html",)).get_content()
    assert f'<a href="https://timeline.example.org/en/events/{summit.slug}/">' in page
    assert f"<del>{before['en']}</del>" in page
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = Notification.objects.get(kind=Kind.DIGEST, subscriber=english)
    assert message["Message-ID"] == mail.message_id(row)
    assert list(message.iter_attachments()) == []

    (message,) = to(smtp, russian.email)
    assert subject(message) == f"Ваша ежедневная сводка: {l10n.date(dt.date(2027, 2, 1), 'ru')}"
    body = text(message)
    with translation.override("ru"):
        moved = gettext("Moved: was %(old)s, now %(new)s")
        changed = gettext("Changed")
    assert changed != "Changed" and moved != "Moved: was %(old)s, now %(new)s"
    assert (
        f"{changed}\n\n- Summit\n  {moved % {'old': before['ru'], 'new': summit.when_in('ru')}}"
        in body
    )
    assert f"https://timeline.example.org/ru/events/{talks.slug}/" in body
    reader_time = mail.times(signing, "Europe/Moscow", "ru")["reader"]
    assert f"- {reader_time}: Signing" in body

    # Each item was in one digest: the next day's has nothing more to say.
    run(at("2027-02-02 03:00"))
    assert len(to(smtp, english.email)) == 1
    told = DigestItem.objects.filter(subscriber=english)
    assert {(i.kind, i.event_id, i.digest_id) for i in told} == {
        ("news", talks.pk, row.pk),
        ("change", summit.pk, row.pk),
    }


def test_nothing_to_say_sends_no_digest(smtp):
    reader = on_digest("quiet@example.com", topic())
    run(at("2027-02-01 03:00"))
    assert smtp.messages == []
    row = Notification.objects.get(kind=Kind.DIGEST, subscriber=reader)
    assert (row.state, row.last_error) == (State.SKIPPED, "Nothing to tell.")


def test_news_taken_back_or_changed_back_before_the_digest_is_not_told(smtp, week_of_news):
    energy, summit, signing, talks = week_of_news
    reader = on_digest("reader@example.com", energy)
    Event.objects.filter(pk=signing.pk).delete()
    edit(talks, at("2027-01-31 10:00"), published=True)
    edit(talks, at("2027-01-31 11:00"), published=False)
    start = summit.start_utc
    edit(summit, at("2027-01-31 12:00"), **moved_to(summit, at("2027-02-12 05:00")))
    edit(summit, at("2027-01-31 13:00"), **moved_to(summit, start))

    run(at("2027-02-01 03:00"))

    assert smtp.messages == []
    assert not DigestItem.objects.filter(subscriber=reader).exists()  # dropped, not told


def test_news_of_the_last_minutes_waits_for_the_next_digest(smtp, week_of_news):
    """As change notices are, news is held for the delay: an edit right after is in the same."""
    energy, _summit, signing, talks = week_of_news
    Event.objects.filter(pk=signing.pk).delete()
    reader = on_digest("reader@example.com", energy)
    edit(talks, at("2027-02-01 02:58"), published=True)
    edit(talks, at("2027-02-01 02:59"), **moved_to(talks, at("2027-02-07 05:00")))

    run(at("2027-02-01 03:00"))
    assert smtp.messages == []
    run(at("2027-02-02 03:00"))
    (message,) = to(smtp, reader.email)
    assert "- Talks" in text(message) and "Changed" not in text(message)


# --- exactly once ----------------------------------------------------------------------------
def test_making_the_digests_twice_makes_one_per_period(smtp):
    energy = topic()
    reader = on_digest("reader@example.com", energy)
    assert digests.create_due(at("2027-02-01 03:00")) == 1
    assert digests.create_due(at("2027-02-01 03:00")) == 0
    assert digests.create_due(at("2027-02-01 09:00")) == 0  # the same day
    tasks.create_due_digests.apply().get()
    tasks.create_due_digests.apply().get()
    keys = [key for key, _due in digest_rows(subscriber=reader)]
    assert len(keys) == len(set(keys)) == 2  # that day's, and today's (the task runs now)


def test_a_digest_claimed_by_a_dispatcher_that_died_goes_once(smtp, settings, week_of_news):
    energy, *_ = week_of_news
    reader = on_digest("reader@example.com", energy)
    now = at("2027-02-01 03:00")
    digests.create_due(now)
    (claimed,) = dispatch.claim(10, now)  # and then its process is killed

    dispatch.dispatch_due(now=now + dt.timedelta(seconds=1))
    assert smtp.messages == []  # still leased to it
    dispatch.dispatch_due(now=now + dt.timedelta(seconds=settings.DISPATCH_LEASE_SECONDS + 1))
    dispatch.dispatch_due(now=now + dt.timedelta(seconds=2 * settings.DISPATCH_LEASE_SECONDS))

    (message,) = to(smtp, reader.email)
    assert message["Message-ID"] == mail.message_id(claimed)
    claimed.refresh_from_db()
    assert claimed.state == State.SENT


def test_a_digest_sent_by_a_dispatcher_that_died_before_recording_it(smtp, settings, week_of_news):
    """At most one more copy, with the same Message-ID, and its items told once."""
    energy, _summit, _signing, talks = week_of_news
    reader = on_digest("reader@example.com", energy)
    edit(talks, at("2027-01-31 12:00"), published=True)
    now = at("2027-02-01 03:00")
    digests.create_due(now)
    (row,) = dispatch.claim(10, now)
    digests.prepare([row], now)
    backend = get_connection()
    dispatch.send(backend, row)  # accepted; the process is killed before it marks the row
    backend.close()

    dispatch.dispatch_due(now=now + dt.timedelta(seconds=settings.DISPATCH_LEASE_SECONDS + 1))

    first, again = to(smtp, reader.email)
    assert first["Message-ID"] == again["Message-ID"] == mail.message_id(row)
    assert text(first).split("--")[0] == text(again).split("--")[0]
    assert DigestItem.objects.get(subscriber=reader).digest_id == row.pk
    run(at("2027-02-02 03:00"))
    assert len(to(smtp, reader.email)) == 2


def test_a_digest_not_sent_before_the_next_is_due_gives_way_to_it(smtp, week_of_news):
    energy, _summit, _signing, talks = week_of_news
    reader = on_digest("reader@example.com", energy)
    edit(talks, at("2027-01-31 12:00"), published=True)
    digests.create_due(at("2027-02-01 03:00"))  # made, but no dispatcher ran that day

    run(at("2027-02-02 03:00"))

    (message,) = to(smtp, reader.email)
    assert subject(message) == "Your daily digest: 2 Feb 2027"
    assert "- Talks" in text(message)
    late = Notification.objects.get(kind=Kind.DIGEST, key="daily:2027-02-01")
    assert (late.state, late.last_error) == (State.SKIPPED, "Too late: the next digest is due.")


# --- reminders and choices ---------------------------------------------------------------------
def test_readers_on_a_digest_keep_their_reminders_unless_they_turn_them_off(smtp):
    energy = topic()
    event = event_at(energy, at("2027-02-03 09:00"), "Signing")
    keeps = on_digest("keeps@example.com", energy, lead_times=[60])
    stops = on_digest("stops@example.com", energy, lead_times=[60], digest_reminders=False)
    at_once = on_digest("now@example.com", energy, lead_times=[60], news=News.AT_ONCE)
    scheduling.sync_event(event.pk, now=at("2027-01-20 00:00"))

    dispatch.dispatch_due(now=at("2027-02-03 08:00"))

    reminded = sorted(m["To"] for m in smtp.messages if subject(m).startswith("Reminder"))
    assert reminded == sorted([keeps.email, at_once.email])
    assert stops.email not in [m["To"] for m in smtp.messages]


def test_turning_reminders_off_on_a_digest_drops_the_pending_ones(
    django_capture_on_commit_callbacks,
):
    energy = topic()
    event = event_at(energy, at("2027-02-03 09:00"), "Signing")
    reader = on_digest("reader@example.com", energy, lead_times=[60])
    scheduling.sync_event(event.pk, now=at("2027-01-20 00:00"))
    pending = Notification.objects.filter(kind=Kind.REMINDER, state=State.PENDING)
    assert pending.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.set_preferences(
            subscriber=reader,
            follows={("topic_id", energy.pk)},
            lead_times=[60],
            zone=reader.timezone,
            news=services.NewsChoice(news=News.DAILY, digest_reminders=False),
        )
    assert not pending.exists()
    row = Notification.objects.get(kind=Kind.REMINDER)
    assert row.last_error == "Reminders are off while on a digest."


def test_changing_the_choice_moves_what_is_owed(django_capture_on_commit_callbacks):
    energy = topic()
    event = event_at(energy, at("2027-02-03 09:00"), "Signing", published=False)
    reader = on_digest("reader@example.com", energy, news=News.AT_ONCE, lead_times=[60])
    edit(event, at("2027-01-20 00:00"), published=True)
    news = Notification.objects.get(kind=Kind.NEWS)

    def choose(news: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.set_preferences(
                subscriber=Subscriber.objects.get(pk=reader.pk),
                follows={("topic_id", energy.pk)},
                lead_times=[60],
                zone=reader.timezone,
                news=services.NewsChoice(news=news),
            )

    choose(News.WEEKLY)
    news.refresh_from_db()
    assert (news.state, news.last_error) == (State.SKIPPED, "News now comes in a digest.")
    assert DigestItem.objects.filter(subscriber=reader, kind="news", digest=None).count() == 1

    choose(News.AT_ONCE)
    news.refresh_from_db()
    assert news.state == State.PENDING
    assert not DigestItem.objects.exists()

    choose(News.NEVER)
    news.refresh_from_db()
    assert (news.state, news.last_error) == (
        State.SKIPPED,
        "The subscriber no longer takes news at once.",
    ) or news.state == State.PENDING  # checked again when it goes
    dispatch.dispatch_due(now=news.due_at)
    news.refresh_from_db()
    assert news.state == State.SKIPPED


def test_the_preferences_page_sets_the_choice_and_explains_a_bad_time(client):
    energy = topic()
    reader = on_digest("reader@example.com", energy, news=News.NEVER, lead_times=[1440])
    url = reverse("timeline:subscription", args=[links.token_for(reader)])
    page = client.get(url).content.decode()
    assert re.search(r'name="news" value="never"[^>]*checked', page)
    base = {"topics": [energy.pk], "timezone": "Asia/Almaty", "lead_times": ["1440"]}

    for time, error in (
        ("25:61", BAD_DIGEST_TIME),
        ("eight", BAD_DIGEST_TIME),
        ("", NO_DIGEST_TIME),
    ):
        response = client.post(url, {**base, "news": "daily", "digest_time": time})
        assert response.status_code == 200
        page = response.content.decode()
        assert re.search(
            rf'<ul class="errorlist" id="id_digest_time_error"><li>{re.escape(str(error))}', page
        )
        reader.refresh_from_db()
        assert reader.news == News.NEVER

    response = client.post(
        url,
        {**base, "news": "weekly", "digest_time": "18:30", "digest_weekday": "4", "lead_times": []},
    )
    assert response.status_code == 302
    reader.refresh_from_db()
    assert (reader.news, reader.digest_time, reader.digest_weekday) == (
        News.WEEKLY,
        dt.time(18, 30),
        4,
    )
    assert reader.digest_reminders is False and reader.lead_times == []
    assert reader.digest_since > LONG_AGO
    page = client.get(url).content.decode()
    assert re.search(r'name="digest_time" value="18:30"', page)
    assert re.search(r'<option value="4" selected>Friday</option>', page)


def test_signing_up_offers_a_weekly_digest_and_keeps_the_choice(client, smtp):
    energy = topic()
    energy.events.add(EventFactory())
    page = client.get(reverse("timeline:subscribe")).content.decode()
    assert re.search(r'name="news" value="weekly"[^>]*checked', page)
    assert re.search(r'name="digest_time" value="08:00"', page)

    client.post(
        reverse("timeline:subscribe"),
        {
            "email": "new@example.com",
            "topics": [energy.pk],
            "timezone": "Europe/Moscow",
            "news": "daily",
            "digest_time": "07:15",
            "digest_reminders": "on",
        },
    )
    reader = Subscriber.objects.get(email="new@example.com")
    assert (reader.news, reader.digest_time, reader.digest_reminders) == (
        News.DAILY,
        dt.time(7, 15),
        True,
    )
    assert reader.lead_times == []


# --- load --------------------------------------------------------------------------------------
def test_digests_cost_the_same_queries_however_many_events_and_readers(smtp):
    """Made in a set-based query or three; a batch of them worked out in a few queries."""

    def day(number: int, readers: int, events: int) -> tuple[int, int, list[int]]:
        followed = topic(f"topic-{number}")
        start = at("2027-02-01 03:00") + dt.timedelta(days=number)
        for hour in range(events):
            event_at(followed, start + dt.timedelta(hours=hour + 1), f"Event {number}.{hour}")
        scheduling.sync_changed_events(now=start - dt.timedelta(days=1))
        Subscriber.objects.all().delete()
        for reader in range(readers):
            on_digest(f"r{number}.{reader}@example.com", followed, digest_since=start)
        with CaptureQueriesContext(connection) as making:
            digests.create_due(start)
        with CaptureQueriesContext(connection) as sending:
            dispatch.dispatch_due(now=start)
        assert Notification.objects.filter(state=State.SENT, kind=Kind.DIGEST).count() == readers
        # Readers on one schedule make one case of the query, however many they are.
        looked_up = [
            len(q["sql"]) for q in making.captured_queries if q["sql"].startswith("SELECT")
        ]
        return len(making), len(sending), looked_up

    few = day(0, readers=3, events=2)
    more_events = day(1, readers=3, events=8)
    more_readers = day(2, readers=9, events=8)
    assert more_events == few
    assert more_readers[0] == few[0] and more_readers[2] == few[2]
    # Only the marks grow with the readers: each sent row's own update (in a savepoint).
    assert more_readers[1] - more_events[1] <= 4 * 6
