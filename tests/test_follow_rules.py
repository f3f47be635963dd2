"""The single definitions: what a follow selects, who follows an event, which events go in
calendars and get reminders, when a schedule changed, and the stored form of a secret token."""

import hashlib

import pytest
from django.http import QueryDict
from django.utils import timezone

from timeline.feeds import publishing as feeds
from timeline.models import Event, Follows, PrivateFeed, Subscriber, SubscriberLink, hash_token
from timeline.notifications import changes, links
from timeline.queries import filtered_events

from .factories import ActorFactory, EventFactory, SubscriberFactory, TopicFactory, TrackFactory
from .notify_helpers import follower

pytestmark = pytest.mark.django_db


def selected(follows: Follows) -> set[str]:
    return set(Event.objects.matching(follows).values_list("title", flat=True))


def private_feed(name: str = "Desk", **follows) -> PrivateFeed:
    feed = PrivateFeed(name=name, countries=follows.pop("countries", []))
    feed.issue_token()
    feed.save()
    for field, values in follows.items():
        getattr(feed, field).set(values)
    return feed


@pytest.fixture
def record():
    """Four events: energy talks in KZ, a RU visit by a minister, a milestone, a plain one."""
    energy, minister, railway = TopicFactory(slug="energy"), ActorFactory(), TrackFactory()
    talks = EventFactory(title="Talks", countries=["KZ"])
    talks.topics.add(energy)
    visit = EventFactory(title="Visit", countries=["RU"])
    visit.participants.add(minister)
    milestone = EventFactory(title="Milestone", track=railway, countries=["KZ", "RU"])
    plain = EventFactory(title="Plain")
    return {
        "energy": energy,
        "minister": minister,
        "railway": railway,
        "talks": talks,
        "visit": visit,
        "milestone": milestone,
        "plain": plain,
    }


def test_each_kind_of_follow_selects_the_events_that_carry_it(record):
    assert selected(Follows(topics=[record["energy"].pk])) == {"Talks"}
    assert selected(Follows(actors=[record["minister"].pk])) == {"Visit"}
    assert selected(Follows(tracks=[record["railway"].pk])) == {"Milestone"}
    assert selected(Follows(events=[record["plain"].pk])) == {"Plain"}
    assert selected(Follows(countries=["KZ"])) == {"Talks", "Milestone"}
    assert selected(Follows(countries=["RU"])) == {"Visit", "Milestone"}
    # Several follows select every event any of them selects, each once.
    both = Follows(topics=[record["energy"].pk], countries=["KZ"], events=[record["plain"].pk])
    assert sorted(Event.objects.matching(both).values_list("title", flat=True)) == [
        "Milestone",
        "Plain",
        "Talks",
    ]
    assert selected(Follows()) == set()


def test_a_country_follow_selects_only_that_exact_code(record):
    EventFactory(title="Kenya", countries=["KE"])
    EventFactory(title="Uzbekistan", countries=["UZ"])
    assert selected(Follows(countries=["KZ"])) == {"Talks", "Milestone"}
    # Part of a code, or codes run together, are no country at all.
    for fragment in ("K", "Z", "Z,R", "KZ,RU", "", "%", "_Z"):
        assert selected(Follows(countries=[fragment])) == set(), fragment


def test_the_timeline_filter_by_country_is_exact(record):
    def titles(query: str) -> set[str]:
        return {event.title for event in filtered_events(QueryDict(query))}

    assert titles("country=kz") == {"Talks", "Milestone"}
    assert titles("country=k") == set()
    assert titles("country=z,r") == set()
    assert titles("country=KZ&topic=energy") == {"Talks"}


def test_who_follows_an_event_is_the_inverse_of_what_follows_select(record):
    kz = follower("kz@example.com", country="KZ")
    ru = follower("ru@example.com", country="RU")
    energy = follower("energy@example.com", topic=record["energy"])
    minister = follower("minister@example.com", actor=record["minister"])
    railway = follower("railway@example.com", track=record["railway"])
    one = follower("one@example.com", event=record["plain"])
    for event in Event.objects.all():
        following = set(Subscriber.objects.following(event))
        for subscriber in (kz, ru, energy, minister, railway, one):
            chosen = Event.objects.matching(subscriber.followed())
            assert (subscriber in following) == chosen.filter(pk=event.pk).exists()
    assert set(Subscriber.objects.following(record["milestone"])) == {kz, ru, railway}
    assert set(Subscriber.objects.following(record["plain"])) == {one}


def test_private_feeds_include_exactly_the_events_they_select(record):
    kz = private_feed("KZ desk", countries=["KZ"])
    kenya = private_feed("Kenya desk", countries=["KE", "UZ"])
    energy = private_feed("Energy desk", topics=[record["energy"]])
    people = private_feed("People desk", actors=[record["minister"]], tracks=[record["railway"]])
    gone = private_feed("Gone", countries=["KZ", "RU"])
    gone.is_active = False
    gone.save()
    for event in Event.objects.all():
        including = set(PrivateFeed.objects.including(event))
        for feed in (kz, kenya, energy, people):
            chosen = Event.objects.matching(feed.followed())
            assert (feed in including) == chosen.filter(pk=event.pk).exists()
    assert set(PrivateFeed.objects.including(record["talks"])) == {kz, energy}
    assert set(PrivateFeed.objects.including(record["milestone"])) == {kz, people}
    assert feeds.keys_for_events([record["visit"].pk]) >= {people.key}
    assert kz.key not in feeds.keys_for_events([record["visit"].pk])


@pytest.mark.parametrize(
    "precision, status, published, in_calendars, reminded",
    [
        ("minute", "confirmed", True, True, True),
        ("day", "tentative", True, True, True),
        ("day", "postponed", True, True, False),
        ("day", "cancelled", True, True, False),
        ("day", "completed", True, True, False),
        ("day", "confirmed", False, False, False),
        ("month", "confirmed", True, False, False),
        ("quarter", "confirmed", True, False, False),
        ("year", "tentative", True, False, False),
    ],
)
def test_calendars_and_reminders_by_precision_status_and_publication(
    precision, status, published, in_calendars, reminded
):
    event = EventFactory(precision=precision, status=status, published=published)
    assert event.goes_in_calendars is in_calendars
    assert Event.objects.in_calendars().filter(pk=event.pk).exists() is in_calendars
    assert event.gets_reminders is reminded
    assert Event.objects.getting_reminders().filter(pk=event.pk).exists() is reminded


def test_a_schedule_changed_when_time_place_or_status_did():
    astana = {"id": 1, "country": "KZ", "name": {"kk": "Астана", "ru": "Астана", "en": "Astana"}}
    before = {"precision": "day", "start_date": "2025-11-11", "start_time": None}
    before |= {"end_date": None, "end_time": None, "zone": "UTC", "place": astana}
    before |= {"start_utc": "2025-11-11T00:00:00+00:00", "end_utc": "2025-11-12T00:00:00+00:00"}
    before |= {"status": "confirmed"}
    renamed = astana | {"name": {"en": "Nur-Sultan"}}
    assert not changes.schedule_changed(before, before | {"place": renamed})
    for name, value in [
        ("start_utc", "2025-11-12T00:00:00+00:00"),
        ("end_utc", None),
        ("place", None),
        ("place", astana | {"id": 2}),
        ("status", "postponed"),
    ]:
        assert changes.schedule_changed(before, before | {name: value}), name


def test_secret_tokens_of_feeds_and_links_are_stored_the_same_way():
    token = "abc-DEF_123"
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    feed = PrivateFeed(name="Desk")
    issued = feed.issue_token()
    assert feed.token_hash == hash_token(issued)
    subscriber = follower("reader@example.com")
    link = links.token_for(subscriber)
    assert SubscriberLink.objects.get(subscriber=subscriber).token_hash == hash_token(link)


def test_who_may_be_mailed_is_the_same_in_python_and_in_the_database():
    now = timezone.now()
    for confirmed in (now, None):
        for left in (now, None):
            for paused in (False, True):
                SubscriberFactory(confirmed_at=confirmed, unsubscribed_at=left, paused=paused)
    active = set(Subscriber.objects.active())
    assert active == {s for s in Subscriber.objects.all() if s.active}
    assert len(active) == 1
