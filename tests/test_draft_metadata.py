"""Drafts stay secret: what only unpublished events carry is listed nowhere a reader looks."""

import pytest

from .factories import ActorFactory, EventFactory, SubscriberFactory, TopicFactory, TrackFactory

pytestmark = pytest.mark.django_db

PAGES = ("/en/", "/en/feeds/", "/en/subscribe/")


@pytest.fixture
def record():
    """A published event and a draft, each with its own topic, actor, track and country."""
    public = EventFactory(
        title="Published talks", countries=["KZ"], track=TrackFactory(name="Public track")
    )
    public.topics.add(TopicFactory(name="Public topic"))
    public.participants.add(ActorFactory(name="Public Minister"))
    draft = EventFactory(
        title="Secret summit",
        published=False,
        countries=["KZ", "CN"],
        track=TrackFactory(name="Undisclosed project", slug="undisclosed"),
    )
    draft.topics.add(TopicFactory(name="Undisclosed topic", slug="undisclosed-topic"))
    draft.participants.add(ActorFactory(name="Undisclosed Envoy", slug="undisclosed-envoy"))
    return public, draft


@pytest.mark.parametrize("path", PAGES)
def test_what_only_drafts_carry_is_not_listed(client, record, path):
    page = client.get(path).content.decode()
    for name in ("Public topic", "Public Minister", "Public track"):
        assert name in page
    for name in ("Undisclosed", "undisclosed", "China"):
        assert name not in page


def test_published_again_it_is_listed_again(client, record):
    _, draft = record
    draft.published = True
    draft.save()
    for path in PAGES:
        page = client.get(path).content.decode()
        assert "Undisclosed topic" in page and "Undisclosed Envoy" in page


def test_a_follow_whose_events_went_back_to_draft_is_kept_in_preferences(client, record):
    from timeline.notifications import links

    _, draft = record
    subscriber = SubscriberFactory(
        unconfirmed=True, timezone="UTC", lead_times=[1440], follows=[draft.topics.get()]
    )
    token = links.token_for(subscriber)
    page = client.get(f"/en/subscriptions/{token}/").content.decode()
    # Their own follow is shown (and so kept on save), though no published event carries it.
    assert "Undisclosed topic" in page
    assert "Undisclosed Envoy" not in page
