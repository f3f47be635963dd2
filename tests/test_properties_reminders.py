"""Property: whatever editors do to events, followers get exactly the mails they should.

A hypothesis state machine reschedules, cancels, restores, marks tentative or postponed, takes
the date away ("date to be announced") and announces it again, on events that two subscribers
follow, while a simulated clock moves on and the real dispatcher (`dispatch.dispatch_due`) runs
at arbitrary moments, sending over real SMTP to tests/smtp.py. After each run, the mails that
arrived must be exactly those an independent model of the rules predicts for that run:

- a reminder for each lead time, for the start the event has when the dispatcher runs, sent by
  the first run from its due time to the end of the grace period (and before the start, unless
  the lead is zero), only while the event is dated to the day or minute and confirmed or
  tentative, and never twice for the same start;
- one "Cancelled" mail per cancellation;
- one "Date announced" mail when an undated event gets its date, if it still has it when the
  dispatcher runs; but a date taken away and given back while a "Changed" mail is still
  pending is just a change, told by that mail;
- one debounced "Changed" mail for the changes of time, place or status made since the last
  one was sent, sent by the first run at least CHANGE_NOTICE_DELAY_SECONDS after the first of
  them, unless by then everything is back as it was, or the event was cancelled meanwhile.

The outbox is brought in line after an edit by the task its commit queues (`sync_event`), or,
when that message is lost, by the dispatcher itself: both happen here.
"""

import datetime as dt
import itertools
from collections import Counter
from dataclasses import dataclass, field

import icalendar
import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from timeline import timing
from timeline.models import Event
from timeline.notifications import dispatch, scheduling

from .factories import EventFactory, PlaceFactory
from .notify_helpers import follower, topic

pytestmark = pytest.mark.django_db
LEADS = (10080, 1440, 60, 0)
ZONE = "Asia/Almaty"
Status = Event.Status
REMINDED = (Status.CONFIRMED, Status.TENTATIVE)
NUMBERS = itertools.count()


@dataclass
class Schedule:
    """What followers are told of an event: its time, status and how precisely it is dated."""

    start: dt.datetime
    end: dt.datetime | None
    status: str
    precision: str
    when: str  # as the event page and the mails show it, e.g. "2026, date to be announced"

    def changed_from(self, other: "Schedule") -> bool:
        """Tell whether time or status differ (what a "Changed" mail reports)."""
        return (self.start, self.end, self.status) != (other.start, other.end, other.status)


@dataclass
class Expected:
    """The model of one event: its state and what its followers are owed."""

    title: str
    current: Schedule
    announced: Schedule
    behind: bool = False  # edited since the outbox was last brought in line
    change_window: tuple[Schedule, dt.datetime] | None = None  # (told before, due)
    notices: list[tuple[str, dt.datetime]] = field(default_factory=list)  # (kind, due)
    reminded: set[tuple[str, int, dt.datetime]] = field(default_factory=set)

    def sync(self, now: dt.datetime) -> None:
        """Bring what followers are owed in line with the event, as of *now*."""
        self.behind = False
        old, new = self.announced, self.current
        if old == new:
            return
        self.announced = new
        if new.status == Status.CANCELLED and old.status != Status.CANCELLED:
            self.change_window = None
            self.notices.append(("Cancelled", now))
        elif (
            old.precision in timing.COARSER_THAN_DAY
            and new.precision not in timing.COARSER_THAN_DAY
            and self.change_window is None
        ):
            # Not while a Changed mail is pending: they never heard the date had gone.
            self.notices.append(("Date announced", now))
        elif new.changed_from(old) and self.change_window is None:
            delay = dt.timedelta(seconds=settings.CHANGE_NOTICE_DELAY_SECONDS)
            self.change_window = (old, now + delay)

    def mails(self, now: dt.datetime, readers: dict[str, tuple[int, ...]]) -> Counter:
        """Return the mails a dispatcher run at *now* sends: (to, kind, title, start)."""
        if self.behind:
            self.sync(now)
        kinds: list[tuple[str, object]] = []
        for kind, due in list(self.notices):
            if due <= now:
                self.notices.remove((kind, due))
                dated = self.current.precision not in timing.COARSER_THAN_DAY
                if kind == "Cancelled" or dated:
                    kinds.append((kind, None))
        if self.change_window and self.change_window[1] <= now:
            told_before, _due = self.change_window
            self.change_window = None
            if self.current.changed_from(told_before) and self.current.status != Status.CANCELLED:
                kinds.append(("Changed", what_changed(told_before, self.current)))
        sent = Counter()
        for email in readers:
            for kind, detail in kinds:
                sent[(email, kind, self.title, detail)] += 1
        if self.current.status in REMINDED and self.current.precision == timing.MINUTE:
            start = self.current.start
            grace = dt.timedelta(minutes=settings.REMINDER_GRACE_MINUTES)
            for email, leads in readers.items():
                for lead in leads:
                    due = start - dt.timedelta(minutes=lead)
                    in_time = due <= now <= due + grace and (lead == 0 or now < start)
                    if in_time and (email, lead, start) not in self.reminded:
                        self.reminded.add((email, lead, start))
                        sent[(email, "Reminder", self.title, start)] += 1
        return sent


def what_changed(before: Schedule, now: Schedule) -> tuple[str, ...]:
    """Return the "What changed" lines a Changed mail must show: from what followers were told
    before to what the event is when the mail goes out."""
    lines = []
    if (before.precision, before.start, before.end) != (now.precision, now.start, now.end):
        coarse = timing.COARSER_THAN_DAY
        dated = before.precision in coarse and now.precision not in coarse
        message = "Moved: was %(old)s, now %(new)s"
        if dated:
            message = "Date announced: was %(old)s, now %(new)s"
        lines.append(gettext(message) % {"old": before.when, "new": now.when})
    if before.status != now.status:
        labels = {"old": Status(before.status).label, "new": Status(now.status).label}
        lines.append(gettext("Status changed: was %(old)s, now %(new)s") % labels)
    return tuple(lines)


def received(message) -> tuple[str, str, str, object]:
    """Return (to, kind, title, detail) of a mail as its reader sees it; the detail is a
    reminder's start (from its .ics) or a Changed mail's "What changed" lines."""
    subject = str(message["Subject"]).strip()
    kind, _, rest = subject.partition(": ")
    title = rest.split(" — ")[0]
    if kind == "Changed":
        text = message.get_body(("plain",)).get_content()
        lines = text.partition("What changed:")[2].splitlines()[1:]
        listed = itertools.takewhile(lambda line: line.startswith("  "), lines)
        return message["To"], kind, title, tuple(line.strip() for line in listed)
    if kind != "Reminder":
        return message["To"], kind, title, None
    (attachment,) = message.iter_attachments()
    vevent = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")[0]
    start = vevent.decoded("DTSTART").astimezone(dt.UTC)
    return message["To"], kind, title, start


def local(moment: dt.datetime) -> tuple[dt.date, dt.time]:
    wall = moment.astimezone(timing.zone(ZONE))
    return wall.date(), wall.time().replace(second=0, microsecond=0)


class Editing(RuleBasedStateMachine):
    """Editors change events, time passes, the dispatcher runs; mails must match the model."""

    sink = None  # the SmtpSink of the running test

    def __init__(self) -> None:
        super().__init__()
        # Each run of the machine is one savepoint, rolled back at its end.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        with self.sink.lock:
            self.sink.messages.clear()
        self.now = timezone.now().replace(second=0, microsecond=0)
        self.events: list[Event] = []
        self.expected: list[Expected] = []
        self.readers: dict[str, tuple[int, ...]] = {}
        self.undo: dict[int, dict] = {}  # per event: the fields its last edit changed, as before

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    @initialize(
        leads=st.lists(
            st.lists(st.sampled_from(LEADS), min_size=1, max_size=4, unique=True),
            min_size=1,
            max_size=2,
        ),
        starts=st.lists(st.integers(30, 10 * 24 * 60), min_size=1, max_size=2),
    )
    def create(self, leads, starts) -> None:
        energy = topic(f"energy-{next(NUMBERS)}")
        for number, chosen in enumerate(leads):
            email = f"reader{number}@example.com"
            follower(email, energy, lead_times=chosen)
            self.readers[email] = tuple(chosen)
        place = PlaceFactory(timezone=ZONE)
        for number, minutes in enumerate(starts):
            day, at = local(self.now + dt.timedelta(minutes=minutes))
            event = EventFactory(
                title=f"Talks {number}",
                place=place,
                precision=timing.MINUTE,
                start_date=day,
                start_time=at,
            )
            event.topics.add(energy)
            scheduling.sync_event(event.pk, now=self.now)
            self.events.append(event)
            self.expected.append(Expected(event.title, self.schedule(event), self.schedule(event)))

    def schedule(self, event: Event) -> Schedule:
        return Schedule(event.start_utc, event.end_utc, event.status, event.precision, event.when)

    def edit(self, index: int, synced: bool, **changes) -> None:
        """Save changes to an event as an editor would; the queued task syncs it, unless lost."""
        position = index % len(self.events)
        event = Event.objects.get(pk=self.events[position].pk)
        self.undo[position] = {name: getattr(event, name) for name in changes}
        for name, value in changes.items():
            setattr(event, name, value)
        event.full_clean()
        event.save()
        self.events[position] = event
        expected = self.expected[position]
        expected.current = self.schedule(event)
        expected.behind = True
        if synced:
            scheduling.sync_event(event.pk, now=self.now)
            expected.sync(self.now)

    @rule(
        index=st.integers(0, 1),
        minutes=st.integers(-3 * 60, 12 * 24 * 60),
        synced=st.booleans(),
    )
    def reschedule(self, index, minutes, synced) -> None:
        event = self.events[index % len(self.events)]
        if event.precision != timing.MINUTE:
            return
        day, at = local(self.now + dt.timedelta(minutes=minutes))
        self.edit(index, synced, start_date=day, start_time=at)

    @rule(
        index=st.integers(0, 1),
        status=st.sampled_from(
            [Status.CANCELLED, Status.CONFIRMED, Status.TENTATIVE, Status.POSTPONED]
        ),
        synced=st.booleans(),
    )
    def set_status(self, index, status, synced) -> None:
        self.edit(index, synced, status=status)

    @rule(index=st.integers(0, 1), synced=st.booleans())
    def take_the_date_away(self, index, synced) -> None:
        """The date is open again: "2026, date to be announced"."""
        self.edit(index, synced, precision=timing.YEAR, start_time=None)

    @rule(index=st.integers(0, 1), minutes=st.integers(30, 12 * 24 * 60), synced=st.booleans())
    def announce_the_date(self, index, minutes, synced) -> None:
        event = self.events[index % len(self.events)]
        if event.precision == timing.MINUTE:
            return
        day, at = local(self.now + dt.timedelta(minutes=minutes))
        self.edit(index, synced, precision=timing.MINUTE, start_date=day, start_time=at)

    @rule(index=st.integers(0, 1), synced=st.booleans())
    def undo_the_last_edit(self, index, synced) -> None:
        """Put back what the event's last edit changed (editors often do, within minutes)."""
        previous = self.undo.get(index % len(self.events))
        if previous:
            self.edit(index, synced, **previous)

    @rule(minutes=st.integers(0, 90) | st.integers(0, 4 * 24 * 60))
    def wait(self, minutes) -> None:
        self.now += dt.timedelta(minutes=minutes)

    @rule(seconds=st.integers(0, 2 * settings.CHANGE_NOTICE_DELAY_SECONDS))
    def wait_seconds(self, seconds) -> None:
        self.now += dt.timedelta(seconds=seconds)

    @rule(index=st.integers(0, 1), choice=st.integers(0, 3), minutes=st.integers(-10, 45))
    def run_the_dispatcher_around_a_reminder(self, index, choice, minutes) -> None:
        """Wait until about when a reminder is due (if that is still to come), then dispatch."""
        leads = sorted({lead for chosen in self.readers.values() for lead in chosen})
        lead = leads[choice % len(leads)]
        start = self.expected[index % len(self.events)].current.start
        self.now = max(self.now, start - dt.timedelta(minutes=lead - minutes))
        self.run_the_dispatcher()

    @rule()
    def run_the_dispatcher(self) -> None:
        before = len(self.sink.messages)
        dispatch.dispatch_due(now=self.now)
        got = Counter(received(message) for message in self.sink.messages[before:])
        want = Counter()
        for expected in self.expected:
            want += expected.mails(self.now, self.readers)
        assert got == want, f"at {self.now:%Y-%m-%d %H:%M:%S}: sent {got}, expected {want}"
        for _to, kind, _title, _start in got:
            event(f"sent a {kind} mail")

    @invariant()
    def clock_is_aware(self) -> None:
        assert self.now.tzinfo is not None


def test_followers_get_exactly_the_mails_the_rules_say(smtp):
    Editing.sink = smtp
    # Each example is a whole run of edits and dispatches: a fifth as many as the profile says
    # (but at least the ci profile's 60) keeps the explore profile within minutes.
    examples = max(60, hypothesis_settings.default.max_examples // 5)
    run_state_machine_as_test(
        Editing,
        settings=hypothesis_settings(
            max_examples=examples,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
