"""Property: whatever editors and readers do, the news mails, digests and reminders that go out
are exactly those an independent model of the rules predicts.

A hypothesis state machine publishes and unpublishes events, gives them topics and takes them
away, moves them, lets readers follow more, and moves a simulated clock, running the digest
maker and the real dispatcher (`digests.create_due`, `dispatch.dispatch_due`) at arbitrary
moments, over real SMTP to tests/smtp.py. Four readers: news at once; a daily digest at 02:30
in Berlin; a weekly one on Sundays at 02:30 in Berlin, without reminders; no news. The clock
starts two days before Berlin's clocks go forward (there is no 02:30 on 28 March 2027). After
each run, the mails that arrived must be those the model predicts for it:

- News: an event is news to a reader when a change to it (publishing it, giving it a topic)
  makes one of its topics one they follow while none was before the change (what they follow
  taken as it is then), once per reader and event, ever. At once: a mail due the change-notice
  delay later, sent if the event is then still published and followed; on a digest: held.
- Changes: a move of a published event is held for each digest reader following it whose
  news of it is not still to come; a change already held keeps its first old time.
- Digests: at 02:30 Berlin time each day (weekly: on Sundays), at 03:30 on a day without 02:30
  (found here by walking the clock); made by the first run from that moment on, for the latest
  such moment only; sent by that run unless the next moment has come; telling what was held
  at least the delay before, if still published and followed (a change: still different, and
  not of an event new in it), and the followed events starting before the next moment.
  Nothing to tell: no mail, and what was no longer worth telling is forgotten.
- Reminders an hour before, as in test_properties_reminders, to readers following the event
  when the run comes, except the weekly reader.
"""

import datetime as dt
import functools
import itertools
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext
from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from timeline import l10n, timing
from timeline.models import Event, News
from timeline.notifications import digests, dispatch, scheduling, services

from .factories import EventFactory, PlaceFactory, SubscriberFactory
from .notify_helpers import topic

pytestmark = pytest.mark.django_db
READERS_ZONE, EVENTS_ZONE = "Europe/Berlin", "Asia/Almaty"
START = dt.datetime(2027, 3, 26, 12, 0, tzinfo=dt.UTC)
DIGEST_TIME = dt.time(2, 30)
SUNDAY = 6
LEAD = dt.timedelta(minutes=60)
TOPICS = ("energy", "transit")
NUMBERS = itertools.count()


# --- the model -------------------------------------------------------------------------------
@functools.cache
def digest_moment(day: dt.date) -> dt.datetime:
    """Return when 02:30 comes on *day* in Berlin, walking the clock a minute at a time: the
    first time it shows 02:30, else as far past the skipped hour as 02:30 was into it."""
    zone, wanted = ZoneInfo(READERS_ZONE), dt.datetime.combine(day, DIGEST_TIME)
    instant = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(hours=14)
    shown = None
    while True:
        clock = instant.astimezone(zone).replace(tzinfo=None)
        if clock == wanted:
            return instant
        if clock > wanted:
            return instant + (wanted - shown) - dt.timedelta(minutes=1)
        shown = clock
        instant += dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.datetime
    end: dt.datetime
    subject: str


def latest_period(frequency: str, now: dt.datetime) -> Period:
    """Return the latest digest period of *frequency* begun by *now*."""
    day = now.astimezone(ZoneInfo(READERS_ZONE)).date() + dt.timedelta(days=1)
    weekly = frequency == News.WEEKLY
    while digest_moment(day) > now or (weekly and day.weekday() != SUNDAY):
        day -= dt.timedelta(days=1)
    if weekly:
        year, week, _ = day.isocalendar()
        last = day + dt.timedelta(days=6)
        key, words = f"weekly:{year}-W{week:02d}", "Your weekly digest"
    else:
        last = day
        key, words = f"daily:{day.isoformat()}", "Your daily digest"
    return Period(
        key,
        digest_moment(day),
        digest_moment(last + dt.timedelta(days=1)),
        f"{words}: {l10n.days(day, last, 'en')}",
    )


@dataclass
class Happening:
    """The model of one event."""

    title: str
    topics: set[str]
    published: bool
    start: dt.datetime
    when: str  # as the event page shows it, e.g. "28 Mar 2027, 10:00"
    selection: set[str] = field(default_factory=set)  # its topics when last synced, if published
    announced: tuple[dt.datetime, str] | None = None  # (start, when) when last synced


@dataclass
class Reader:
    news: str
    follows: set[str]
    reminded: bool

    def follows_any(self, happening: Happening) -> bool:
        return bool(self.follows & happening.topics)


@dataclass
class Model:
    readers: dict[str, Reader]
    happenings: dict[str, Happening] = field(default_factory=dict)
    told: set[tuple[str, str]] = field(default_factory=set)  # (reader, title): news told
    news_due: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    held_news: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)  # -> held at
    held_changes: dict[tuple[str, str], tuple[dt.datetime, str, dt.datetime]] = field(
        default_factory=dict
    )  # -> (old start, old when, held at)
    made: set[tuple[str, str]] = field(default_factory=set)  # (reader, period key)
    unsent: dict[tuple[str, str], Period] = field(default_factory=dict)
    reminded: set[tuple[str, str, dt.datetime]] = field(default_factory=set)

    def sync(self, happening: Happening, now: dt.datetime) -> None:
        """An event was saved at *now*: who is told of it, and of its move."""
        delay = dt.timedelta(seconds=settings.CHANGE_NOTICE_DELAY_SECONDS)
        current = set(happening.topics) if happening.published else set()
        for email, reader in self.readers.items():
            pair = (email, happening.title)
            newly = reader.follows & current and not reader.follows & happening.selection
            if not newly or pair in self.told or reader.news == News.NEVER:
                continue
            if reader.news == News.AT_ONCE:
                self.news_due.setdefault(pair, now + delay)
            else:
                self.held_news.setdefault(pair, now)
        before = happening.announced
        if happening.published and before and before[0] != happening.start:
            for email, reader in self.readers.items():
                pair = (email, happening.title)
                on_digest = reader.news in (News.DAILY, News.WEEKLY)
                waiting = pair in self.held_news  # its news will show it as it is
                if on_digest and reader.follows_any(happening) and not waiting:
                    self.held_changes.setdefault(pair, (*before, now))
        happening.announced = (happening.start, happening.when)
        happening.selection = current

    def run(self, now: dt.datetime) -> Counter:
        """Return the mails a run of the digest maker and the dispatcher at *now* sends."""
        sent: Counter = Counter()
        for email, reader in self.readers.items():
            if reader.news in (News.DAILY, News.WEEKLY):
                period = latest_period(reader.news, now)
                if period.start >= START and (email, period.key) not in self.made:
                    self.made.add((email, period.key))
                    self.unsent[(email, period.key)] = period
        for pair, due in list(self.news_due.items()):
            if due <= now:
                del self.news_due[pair]
                happening = self.happenings[pair[1]]
                if happening.published and self.readers[pair[0]].follows_any(happening):
                    self.told.add(pair)
                    sent[(pair[0], "New", pair[1])] += 1
        for (email, _key), period in list(self.unsent.items()):
            del self.unsent[(email, period.key)]
            if now < period.end:
                sent += self.digest(email, period, now)
        for happening in self.happenings.values():
            due = happening.start - LEAD
            grace = dt.timedelta(minutes=settings.REMINDER_GRACE_MINUTES)
            if not happening.published or not due <= now <= due + grace or now >= happening.start:
                continue
            for email, reader in self.readers.items():
                reminder = (email, happening.title, happening.start)
                if (
                    reader.reminded
                    and reader.follows_any(happening)
                    and reminder not in self.reminded
                ):
                    self.reminded.add(reminder)
                    sent[(email, "Reminder", happening.title, happening.start)] += 1
        return sent

    def digest(self, email: str, period: Period, now: dt.datetime) -> Counter:
        reader = self.readers[email]
        ripe = now - dt.timedelta(seconds=settings.CHANGE_NOTICE_DELAY_SECONDS)

        def worth(title: str) -> bool:
            happening = self.happenings[title]
            return happening.published and reader.follows_any(happening)

        added, changed, told, dropped = set(), set(), [], []
        for (whom, title), held_at in self.held_news.items():
            if whom == email and held_at <= ripe:
                if worth(title):
                    added.add(title)
                    told.append(("news", title))
                else:
                    dropped.append(("news", title))
        moved = gettext("Moved: was %(old)s, now %(new)s")
        for (whom, title), (old_start, old_when, held_at) in self.held_changes.items():
            if whom != email or held_at > ripe:
                continue
            happening = self.happenings[title]
            if not worth(title) or happening.start == old_start:
                dropped.append(("change", title))
            elif title in added:
                told.append(("change", title))
            else:
                changed.add(f"{title} | {moved % {'old': old_when, 'new': happening.when}}")
                told.append(("change", title))
        upcoming = {
            title
            for title, happening in self.happenings.items()
            if worth(title) and period.start <= happening.start < period.end
        }
        for kind, title in dropped + (told if added or changed or upcoming else []):
            held = self.held_news if kind == "news" else self.held_changes
            del held[(email, title)]
        if not (added or changed or upcoming):
            return Counter()
        self.told.update((email, title) for title in added)
        mail = (email, period.subject, tuple(sorted(added)), tuple(sorted(changed)))
        return Counter({(*mail, tuple(sorted(upcoming))): 1})


# --- what arrived ----------------------------------------------------------------------------
def received(message) -> tuple:
    """Return a mail as the model writes it, read as its reader sees it."""
    subject = str(message["Subject"]).strip()
    kind, _, rest = subject.partition(": ")
    if kind == "Reminder":
        (attachment,) = message.iter_attachments()
        vevent = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
        start = vevent.decoded("DTSTART").astimezone(dt.UTC)
        return message["To"], kind, rest.split(" — ")[0], start
    if kind == "New":
        return message["To"], kind, rest.split(" — ")[0]
    sections: dict[str, list[str]] = {"added": [], "changed": [], "upcoming": []}
    section = None
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    for line in text.split("\n"):
        if line == "New events":
            section = "added"
        elif line == "Changed":
            section = "changed"
        elif line.startswith("Coming up until "):
            section = "upcoming"
        elif line == "--":
            break
        elif section and line.startswith("- "):
            title = line[2:].rpartition(": ")[2] if section == "upcoming" else line[2:]
            sections[section].append(title)
        elif section == "changed" and line.startswith("  Moved"):
            sections["changed"][-1] += f" | {line.strip()}"
    return (
        message["To"],
        subject,
        *(tuple(sorted(sections[name])) for name in ("added", "changed", "upcoming")),
    )


def wall(moment: dt.datetime) -> tuple[dt.date, dt.time]:
    clock = moment.astimezone(timing.zone(EVENTS_ZONE))
    return clock.date(), clock.time().replace(second=0, microsecond=0)


# --- the machine -----------------------------------------------------------------------------
class Following(RuleBasedStateMachine):
    """Editors change events, readers follow more, time passes, digests and mail go out."""

    sink = None  # the SmtpSink of the running test

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        with self.sink.lock:
            self.sink.messages.clear()
        self.now = START
        self.events: list[Event] = []
        self.topics: dict[str, object] = {}
        self.subscribers: dict[str, object] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    @initialize(
        # One topic each: following the other later is a rule of its own.
        follows=st.lists(st.sampled_from(TOPICS).map(lambda name: {name}), min_size=4, max_size=4),
        events=st.lists(
            st.tuples(
                st.sets(st.sampled_from(TOPICS)),
                st.integers(2 * 60, 4 * 24 * 60),
                st.booleans(),
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def create(self, follows, events) -> None:
        number = next(NUMBERS)
        self.topics = {name: topic(f"{name}-{number}") for name in TOPICS}
        readers = {}
        for (email, news, reminded), chosen in zip(
            (
                ("now@example.com", News.AT_ONCE, True),
                ("daily@example.com", News.DAILY, True),
                ("weekly@example.com", News.WEEKLY, False),
                ("never@example.com", News.NEVER, True),
            ),
            follows,
            strict=True,
        ):
            self.subscribers[email] = SubscriberFactory(
                email=email,
                news=news,
                timezone=READERS_ZONE,
                digest_time=DIGEST_TIME,
                digest_weekday=SUNDAY,
                digest_reminders=reminded,
                digest_since=START,
                lead_times=[60],
                follows=[self.topics[name] for name in chosen],
            )
            readers[email] = Reader(news, set(chosen), reminded and news != News.WEEKLY)
        self.model = Model(readers)
        place = PlaceFactory(timezone=EVENTS_ZONE)
        for index, (topics, minutes, published) in enumerate(events):
            day, at = wall(self.now + dt.timedelta(minutes=minutes))
            created = EventFactory(
                title=f"Talks {index}",
                place=place,
                precision=timing.MINUTE,
                start_date=day,
                start_time=at,
                published=published,
            )
            created.topics.add(*(self.topics[name] for name in topics))
            self.events.append(created)
            self.model.happenings[created.title] = Happening(
                created.title, set(topics), published, created.start_utc, created.when
            )
            self.sync(created)

    def sync(self, changed: Event) -> None:
        scheduling.sync_event(changed.pk, now=self.now)
        happening = self.model.happenings[changed.title]
        happening.start, happening.when = changed.start_utc, changed.when
        self.model.sync(happening, self.now)

    def edit(self, index: int, **changes) -> None:
        position = index % len(self.events)
        changed = Event.objects.get(pk=self.events[position].pk)
        for name, value in changes.items():
            setattr(changed, name, value)
        changed.full_clean()
        changed.save()
        self.events[position] = changed
        self.model.happenings[changed.title].published = changed.published
        self.sync(changed)

    @rule(index=st.integers(0, 2), published=st.booleans())
    def publish(self, index, published) -> None:
        self.edit(index, published=published)

    @rule(index=st.integers(0, 2), name=st.sampled_from(TOPICS), add=st.booleans())
    def tag(self, index, name, add) -> None:
        """Give the event a topic, or take one away."""
        changed = self.events[index % len(self.events)]
        (changed.topics.add if add else changed.topics.remove)(self.topics[name])
        topics = self.model.happenings[changed.title].topics
        (topics.add if add else topics.discard)(name)
        self.sync(changed)

    @rule(index=st.integers(0, 2), minutes=st.integers(-3 * 60, 4 * 24 * 60))
    def move(self, index, minutes) -> None:
        day, at = wall(self.now + dt.timedelta(minutes=minutes))
        self.edit(index, start_date=day, start_time=at)

    @rule(
        email=st.sampled_from(
            sorted(
                ["now@example.com", "daily@example.com", "weekly@example.com", "never@example.com"]
            )
        ),
        name=st.sampled_from(TOPICS),
    )
    def follow(self, email, name) -> None:
        """A reader follows one more thing: what it selects already is not news to them."""
        reader = self.model.readers[email]
        reader.follows.add(name)
        subscriber = self.subscribers[email]
        wanted = {("topic_id", self.topics[topic_name].pk) for topic_name in reader.follows}
        services.apply_follows(subscriber=subscriber, wanted=wanted)
        scheduling.sync_subscriber(subscriber.pk, now=self.now)

    @rule(minutes=st.integers(0, 90) | st.integers(0, 2 * 24 * 60))
    def wait(self, minutes) -> None:
        self.now += dt.timedelta(minutes=minutes)

    @rule(seconds=st.integers(0, 2 * settings.CHANGE_NOTICE_DELAY_SECONDS))
    def wait_seconds(self, seconds) -> None:
        self.now += dt.timedelta(seconds=seconds)

    @rule(minutes=st.integers(-5, 5))
    def run_around_the_next_digest(self, minutes) -> None:
        """Wait until about the next digest moment, then run."""
        day = self.now.astimezone(ZoneInfo(READERS_ZONE)).date()
        upcoming = [digest_moment(day + dt.timedelta(days=n)) for n in range(3)]
        moment = min(m for m in upcoming if m > self.now)
        self.now = max(self.now, moment + dt.timedelta(minutes=minutes))
        self.run()

    @rule(index=st.integers(0, 2), minutes=st.integers(-5, 35))
    def run_around_a_reminder(self, index, minutes) -> None:
        start = self.model.happenings[self.events[index % len(self.events)].title].start
        self.now = max(self.now, start - LEAD + dt.timedelta(minutes=minutes))
        self.run()

    @rule()
    def run(self) -> None:
        before = len(self.sink.messages)
        digests.create_due(self.now)
        dispatch.dispatch_due(now=self.now)
        got = Counter(
            received(message)
            for message in self.sink.messages[before:]
            if not str(message["Subject"]).startswith(("Changed", "Cancelled", "Date"))
        )
        want = self.model.run(self.now)
        assert got == want, f"at {self.now:%Y-%m-%d %H:%M:%S}: sent {got}, expected {want}"
        for mail in got:
            event(f"sent {mail[1].split(':')[0]}")


def test_news_digests_and_reminders_are_exactly_what_the_rules_say(smtp):
    Following.sink = smtp
    examples = max(60, hypothesis_settings.default.max_examples // 5)
    run_state_machine_as_test(
        Following,
        settings=hypothesis_settings(
            max_examples=examples,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
