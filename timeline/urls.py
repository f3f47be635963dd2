"""Public URLs of the timeline.

Pages live under a language prefix (/kk/, /ru/, /en/), the bare paths of before redirecting
by the reader's preference (LocaleMiddleware; config/urls.py tells it prefixes are in use).
Feeds have their language in their own path (/feeds/ru/all.ics), their old bare addresses
serving English; the API and machine endpoints keep one address each.
"""

from django.urls import URLPattern, URLResolver, path, register_converter
from django.urls.resolvers import LocalePrefixPattern, RoutePattern

from . import agreement_views, api, export_views, figure_views, figures_api, languages, views
from .feeds import atom
from .feeds import views as feed_views
from .metrics import views as metrics_views
from .notifications import views as subscription_views
from .notifications import webhooks

app_name = "timeline"


class LanguageConverter:
    """A language we write in, as a path segment: kk, ru or en."""

    regex = "|".join(languages.CODES)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(LanguageConverter, "language")


def feed_paths(route: str, kind: str, name: str) -> list[URLPattern]:
    """Return the routes of one kind of public feed: per language, then the bare (English) one."""
    return [
        path(
            f"feeds/<language:language>/{route}", feed_views.public_feed, {"kind": kind}, name=name
        ),
        path(f"feeds/{route}", feed_views.public_feed, {"kind": kind}, name=name),
    ]


page_patterns = [
    path("", views.timeline, name="index"),
    # The timeline's current selection as files (the same filters as the page's query string).
    path("events.csv", export_views.events_csv, name="events-csv"),
    path("events.ics", export_views.events_ics, name="events-ics"),
    path("events/<slug:slug>/", views.event_detail, name="event-detail"),
    path("events/<slug:slug>.ics", feed_views.event_ics, name="event-ics"),
    path("agreements/", agreement_views.agreement_list, name="agreements"),
    path("agreements/<slug:slug>/", agreement_views.agreement_detail, name="agreement"),
    path("feeds/", feed_views.feed_directory, name="feeds"),
    path("figures/", figure_views.metric_list, name="figures"),
    path("figures/<slug:slug>/", figure_views.metric_detail, name="metric"),
    path("subscribe/", subscription_views.subscribe, name="subscribe"),
    path("subscribe/sent/", subscription_views.subscribe_sent, name="subscribe-sent"),
    path("confirm/<str:token>/", subscription_views.confirm, name="confirm"),
    path("subscriptions/<str:token>/", subscription_views.preferences, name="subscription"),
    path("unsubscribe/<str:token>/", subscription_views.unsubscribe, name="unsubscribe"),
]

urlpatterns = [
    # include() refuses a language prefix below the root URLconf; built by hand, one level down,
    # it lets pages share the "timeline" namespace with feeds and the API.
    URLResolver(RoutePattern(""), [URLResolver(LocalePrefixPattern(), page_patterns)]),
    # Addresses in calendars and mail already sent, which must keep answering as they did: the
    # event's .ics (English, as before) and one-click unsubscribe (RFC 8058 POSTs can't follow
    # a redirect; a GET is redirected to the reader's language).
    path("events/<slug:slug>.ics", feed_views.event_ics, name="event-ics-bare"),
    path(
        "unsubscribe/<str:token>/",
        subscription_views.unsubscribe_bare,
        name="unsubscribe-bare",
    ),
    # Each public feed in each language (/feeds/ru/all.ics), and at the address it had before
    # feeds had languages (/feeds/all.ics), which serves the English one. Each pair shares a
    # name: reverse() with a `language` picks the first, without one the bare address.
    *feed_paths("all.ics", "all", "feed-all"),
    *feed_paths("topics/<slug:value>.ics", "topic", "feed-topic"),
    *feed_paths("countries/<str:value>.ics", "country", "feed-country"),
    *feed_paths("tracks/<slug:value>.ics", "track", "feed-track"),
    *feed_paths("actors/<slug:value>.ics", "actor", "feed-actor"),
    # In the private feed's own language (set in the admin).
    path("feeds/private/<str:token>.ics", feed_views.private_feed, name="feed-private"),
    # A metric's figures as data: codes and ISO dates, the same file in every language.
    path("figures/<slug:slug>.csv", figure_views.metric_csv, name="metric-csv"),
    path("api/events/", api.event_list, name="api-events"),
    path("api/events/<uuid:uid>/", api.event_item, name="api-event"),
    path("api/figures/", figures_api.figure_list, name="api-figures"),
    path("api/schemas/<slug:name>.json", figures_api.schema, name="api-schema"),
    path("feeds/changes.atom", atom.ChangesFeed(), name="feed-changes"),
    path("healthz", views.healthz, name="healthz"),
    # For the operator's Prometheus, with METRICS_TOKEN (404 without it, and while it is unset).
    path("metrics", metrics_views.metrics, name="metrics"),
    # Bounces and complaints from Mailgun, signed (at the address anymail's URLs would give it).
    path("anymail/mailgun/tracking/", webhooks.mailgun_tracking, name="mailgun-tracking"),
]
