"""The site's name comes from one setting: pages, calendar feeds, the admin and mail follow it."""

import pytest
from django.urls import reverse

from timeline.notifications import dispatch

from .factories import EventFactory, TopicFactory

pytestmark = pytest.mark.django_db
NAME = "Caspian Record"


def test_changing_the_site_name_renames_pages_feeds_admin_and_mail(client, settings, smtp):
    settings.SITE_NAME = NAME
    event = EventFactory(title="Intergovernmental commission")
    topic = TopicFactory(name="Energy", slug="energy")
    event.topics.add(topic)

    assert f"<title>{NAME}</title>" in client.get("/en/").content.decode()
    detail = client.get(event.get_absolute_url()).content.decode()
    assert f"Intergovernmental commission · {NAME}</title>" in detail
    assert f'<meta property="og:site_name" content="{NAME}">' in detail
    assert f"Follow by email · {NAME}</title>" in client.get("/en/subscribe/").content.decode()
    assert NAME in client.get("/admin/login/").content.decode()

    assert f"X-WR-CALNAME:{NAME}\r\n" in client.get("/feeds/all.ics").content.decode()
    topic_feed = client.get("/feeds/topics/energy.ics").content.decode()
    assert f"X-WR-CALNAME:{NAME}: Energy\r\n" in topic_feed
    atom = client.get(reverse("timeline:feed-changes")).content.decode()
    assert f"<title>{NAME}: recent changes</title>" in atom

    data = {"email": "new@example.com", "lead_times": ["1440"], "timezone": "UTC"}
    assert client.post("/en/subscribe/", {**data, "topics": [str(topic.pk)]}).status_code == 302
    dispatch.dispatch_due()
    (message,) = smtp.to("new@example.com")
    assert str(message["Subject"]).strip() == f"Confirm your subscription to the {NAME}"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert f"asked to follow the {NAME} with this address" in part
        assert "Kazakhstan" not in part
