"""The Atom feed of recent changes, for feed readers."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed as SyndicationFeed
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.xmlutils import SimplerXMLGenerator

from ..models import Event


class TextSummaryAtomFeed(Atom1Feed):
    """Atom feed whose entry summaries are plain text, as the record's summaries are."""

    def add_item_elements(self, handler: SimplerXMLGenerator, item: dict[str, Any]) -> None:
        # Django sends summaries as type="html": a reader would render markup an editor typed.
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"] is not None:
            handler.addQuickElement("summary", item["description"], {"type": "text"})


class ChangesFeed(SyndicationFeed[Event, None]):
    """Atom feed of the most recently added or changed published events."""

    feed_type = TextSummaryAtomFeed
    subtitle = gettext_lazy("Events added or changed, newest first.")

    def title(self) -> str:
        return _("%(site_name)s: recent changes") % {"site_name": settings.SITE_NAME}

    def link(self) -> str:
        return reverse("timeline:index")

    def items(self) -> QuerySet[Event]:
        return Event.objects.published().select_related("place").order_by("-updated_at")[:50]

    def item_title(self, item: Event) -> str:
        return f"{item.title} ({item.when})"

    def item_description(self, item: Event) -> str:
        return item.summary or item.description[:500]

    def item_guid(self, item: Event) -> str:
        return f"urn:uuid:{item.uid}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Event) -> dt.datetime:
        return item.created_at

    def item_updateddate(self, item: Event) -> dt.datetime:
        return item.updated_at
