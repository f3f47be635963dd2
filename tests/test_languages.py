"""Pages in kk, ru and en: prefixes, redirects by preference, the switcher, fallbacks, hreflang."""

import re

import pytest
from django.conf import settings
from django.utils import translation

from tests.factories import EventFactory, TopicFactory

pytestmark = pytest.mark.django_db


def test_bare_paths_redirect_by_cookie_then_accept_language_then_english(client):
    EventFactory(slug="visit")
    answer = client.get("/events/visit/?from=mail", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9,en;q=0.5")
    assert answer.status_code == 302
    assert answer["Location"] == "/ru/events/visit/?from=mail"

    assert client.get("/", HTTP_ACCEPT_LANGUAGE="kk-KZ")["Location"] == "/kk/"
    assert client.get("/feeds/", HTTP_ACCEPT_LANGUAGE="de-DE,fr")["Location"] == "/en/feeds/"
    assert client.get("/subscribe/")["Location"] == "/en/subscribe/"

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "kk"
    answer = client.get("/events/visit/", HTTP_ACCEPT_LANGUAGE="ru")
    assert answer["Location"] == "/kk/events/visit/"


def test_reading_a_page_remembers_its_language_for_later_bare_links(client):
    answer = client.get("/ru/")
    assert answer.status_code == 200
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="en")["Location"] == "/ru/subscribe/"


def test_html_lang_switcher_and_hreflang_on_every_page(client):
    topic = TopicFactory(slug="energy", in_use=True)
    event = EventFactory(slug="visit")
    event.topics.add(topic)
    for path in ("/ru/", "/ru/events/visit/", "/ru/feeds/", "/ru/subscribe/"):
        html = client.get(path + "?topic=energy").content.decode()
        assert '<html lang="ru">' in html, path
        switcher = html[html.index('class="language-switcher"') :]
        for code in ("kk", "ru", "en"):
            assert f'href="/{code}{path[3:]}?topic=energy" hreflang="{code}"' in switcher, path
            assert (
                f'<link rel="alternate" hreflang="{code}" '
                f'href="{settings.SITE_URL}/{code}{path[3:]}?topic=energy">'
            ) in html
        assert f'hreflang="x-default" href="{settings.SITE_URL}{path[3:]}?topic=energy"' in html
        assert re.search(r'lang="ru" aria-current="true">Русский<', switcher)


def test_text_missing_in_the_readers_language_falls_back_and_says_which_language(client):
    event = EventFactory(slug="visit", title="State visit")
    event.title_ru = "Государственный визит"
    event.summary_en = "Two days of talks."
    event.save()

    kazakh = client.get("/kk/events/visit/").content.decode()
    # A Kazakh reader is shown Russian before English, marked as Russian.
    assert '<h1 dir="auto" lang="ru">Государственный визит</h1>' in kazakh
    assert '<p class="summary" lang="en">Two days of talks.</p>' in kazakh

    russian = client.get("/ru/events/visit/").content.decode()
    assert '<h1 dir="auto">Государственный визит</h1>' in russian
    english = client.get("/en/events/visit/").content.decode()
    assert '<h1 dir="auto">State visit</h1>' in english
    assert '<p class="summary">Two days of talks.</p>' in english


def test_timeline_card_marks_fallback_language(client):
    EventFactory(slug="visit", title="State visit")
    html = client.get("/kk/").content.decode()
    assert '<span lang="en">State visit</span>' in html


def test_feeds_do_not_vary_by_accept_language_but_pages_and_api_do(client):
    EventFactory()
    feed = client.get("/feeds/all.ics", HTTP_ACCEPT_LANGUAGE="ru")
    assert "Accept-Language" not in feed.get("Vary", "")
    assert "Accept-Language" in client.get("/api/events/").get("Vary", "")


def test_bare_unsubscribe_link_from_mail_sent_before_still_unsubscribes_in_one_click(client):
    from tests.factories import SubscriberFactory
    from timeline.notifications import links

    subscriber = SubscriberFactory()
    token = links.token_for(subscriber)
    page = client.get(f"/unsubscribe/{token}/", HTTP_ACCEPT_LANGUAGE="kk")
    assert page.status_code == 302 and page["Location"] == f"/kk/unsubscribe/{token}/"
    answer = client.post(f"/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


def test_reverse_follows_the_active_language():
    from django.urls import reverse

    with translation.override("kk"):
        assert reverse("timeline:index") == "/kk/"
        assert reverse("timeline:feed-all") == "/feeds/all.ics"


def test_each_source_shows_the_language_it_is_written_in(client):
    from tests.factories import SourceFactory

    event = EventFactory(slug="visit")
    SourceFactory(event=event, title="Глава государства провел встречу", language="ru")
    html = client.get("/en/events/visit/").content.decode()
    assert 'hreflang="ru" lang="ru">Глава государства провел встречу</a>' in html
    assert '<span class="source-language" lang="ru">(Русский)</span>' in html


def test_a_missing_page_says_so_in_the_readers_language(client):
    from django.utils.translation import gettext

    for language in ("kk", "ru", "en"):
        answer = client.get(f"/{language}/events/no-such-event/")
        assert answer.status_code == 404
        with translation.override(language):
            assert f"<h1>{gettext('Page not found')}</h1>" in answer.content.decode()
        assert f'<html lang="{language}">' in answer.content.decode()
