"""Top-level URL configuration."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("timeline.urls")),
    # timeline.urls nests its pages under the language prefix itself, so that pages, feeds and
    # the API share one namespace; this empty prefix tells LocaleMiddleware that prefixes are
    # in use (it looks only at this top level), so it reads the language from the path and
    # redirects bare page paths by preference.
    *i18n_patterns(),
]
