"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_title = "Timeline admin"
admin.site.index_title = "The record"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("timeline.urls")),
]
