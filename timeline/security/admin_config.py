"""The admin app with our OTP-aware site as `admin.site`, so every @admin.register lands there."""

from django.contrib.admin.apps import AdminConfig


class TimelineAdminConfig(AdminConfig):
    default_site = "timeline.security.admin_site.TimelineAdminSite"
