"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# After Django is set up: repeated public feed polls are answered with Django's own first answer.
from timeline.feeds.replay import FeedReplayMiddleware  # noqa: E402

application = FeedReplayMiddleware(django_application)
