"""Public URLs of the timeline.

Pages live under a language prefix (/kk/, /ru/, /en/), the bare paths of before redirecting
by the reader's preference (LocaleMiddleware; config/urls.py tells it prefixes are in use).
Feeds, the API and machine endpoints keep one address each and take the language otherwise.
"""

from django.urls import URLResolver, path
from django.urls.resolvers import LocalePrefixPattern, RoutePattern

from . import api, views
from .feeds import atom
from .feeds import views as feed_views
from .notifications import views as subscription_views

app_name = "timeline"

page_patterns = [
    path("", views.timeline, name="index"),
    path("events/<slug:slug>/", views.event_detail, name="event-detail"),
    path("events/<slug:slug>.ics", feed_views.event_ics, name="event-ics"),
    path("feeds/", feed_views.feed_directory, name="feeds"),
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
    path("feeds/all.ics", feed_views.public_feed, {"kind": "all"}, name="feed-all"),
    path(
        "feeds/topics/<slug:value>.ics",
        feed_views.public_feed,
        {"kind": "topic"},
        name="feed-topic",
    ),
    path(
        "feeds/countries/<str:value>.ics",
        feed_views.public_feed,
        {"kind": "country"},
        name="feed-country",
    ),
    path(
        "feeds/tracks/<slug:value>.ics",
        feed_views.public_feed,
        {"kind": "track"},
        name="feed-track",
    ),
    path(
        "feeds/actors/<slug:value>.ics",
        feed_views.public_feed,
        {"kind": "actor"},
        name="feed-actor",
    ),
    path("feeds/private/<str:token>.ics", feed_views.private_feed, name="feed-private"),
    path("api/events/", api.event_list, name="api-events"),
    path("api/events/<uuid:uid>/", api.event_item, name="api-event"),
    path("feeds/changes.atom", atom.ChangesFeed(), name="feed-changes"),
    path("healthz", views.healthz, name="healthz"),
]
