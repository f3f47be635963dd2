"""Public URLs of the timeline."""

from django.urls import path

from . import views

app_name = "timeline"

urlpatterns = [
    path("", views.timeline, name="index"),
    path("events/<slug:slug>/", views.event_detail, name="event-detail"),
    path("healthz", views.healthz, name="healthz"),
]
