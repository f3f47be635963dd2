"""The Atom feed of recent changes, for feed readers, in the language they ask for.

?lang=kk|ru|en, else Accept-Language, else English (as the JSON API); the feed says it with
xml:lang, and marks an entry's title or summary shown in a fallback language with its own.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed as SyndicationFeed
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils import translation
from django.utils.feedgenerator import Atom1Feed, rfc3339_date
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.xmlutils import SimplerXMLGenerator

from .. import languages
from ..models import Event
from ..models.translations import Shown, shown
from ..reader_language import LANG_PARAMETER, UnknownLanguage, asked_language, say_language


@dataclass(frozen=True)
class Entry:
    """An event as one feed entry, in the feed's language."""

    event: Event
    language: str

    def text(self, field: str) -> Shown:
        return shown(self.event, field, self.language)


def _lang(text: Shown | None) -> dict[str, str]:
    """Return an xml:lang attribute for a text in another language than the feed's, else none."""
    return {"xml:lang": text.language} if text is not None and text.is_fallback else {}


class TextSummaryAtomFeed(Atom1Feed):
    """Atom feed whose entry summaries are plain text, as the record's summaries are, and whose
    entry titles and summaries carry xml:lang where they fall back to another language."""

    def add_item_elements(self, handler: SimplerXMLGenerator, item: dict[str, Any]) -> None:
        # Written here, not by Atom1Feed: it gives a title no attributes, and sends summaries as
        # type="html" (a reader would render markup an editor typed). The feed sets no authors,
        # enclosures, categories or rights.
        handler.addQuickElement("title", item["title"], _lang(item.get("title_shown")))
        handler.addQuickElement("link", "", {"href": item["link"], "rel": "alternate"})
        handler.addQuickElement("published", rfc3339_date(item["pubdate"]))
        handler.addQuickElement("updated", rfc3339_date(item["updateddate"]))
        handler.addQuickElement("id", item["unique_id"])
        if item["description"] is not None:
            attributes = {"type": "text", **_lang(item.get("summary_shown"))}
            handler.addQuickElement("summary", item["description"], attributes)


class ChangesFeed(SyndicationFeed[Entry, str]):
    """Atom feed of the most recently added or changed published events."""

    feed_type = TextSummaryAtomFeed
    subtitle = gettext_lazy("Events added or changed, newest first.")

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Answer in the language asked for; an unknown ?lang= is refused with 400."""
        try:
            language = asked_language(request)
        except UnknownLanguage as error:
            refusal = HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
            say_language(refusal, languages.DEFAULT)
            return refusal
        # The feed's words and the pages it links to are in its language.
        with translation.override(language):
            response = super().__call__(request, *args, **kwargs)
        say_language(response, language)
        return response

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str:
        """Return the language the feed is written in (active: `__call__` chose it)."""
        return languages.supported(translation.get_language()) or languages.DEFAULT

    def title(self, obj: str) -> str:
        return _("%(site_name)s: recent changes") % {"site_name": settings.SITE_NAME}

    def link(self, obj: str) -> str:
        return reverse("timeline:index")

    def feed_url(self, obj: str) -> str:
        """Return this feed's own address, in its language."""
        return f"{reverse('timeline:feed-changes')}?{urlencode({LANG_PARAMETER: obj})}"

    def items(self, obj: str) -> list[Entry]:
        events = Event.objects.published().select_related("place").order_by("-updated_at")[:50]
        return [Entry(event, obj) for event in events]

    def item_title(self, item: Entry) -> str:
        return f"{item.text('title')} ({item.event.when_in(item.language)})"

    def item_description(self, item: Entry) -> str:
        return self._summary(item).text

    @staticmethod
    def _summary(item: Entry) -> Shown:
        summary = item.text("summary")
        if summary.text:
            return summary
        description = item.text("description")
        return Shown(description.text[:500], description.language, description.page_language)

    def item_link(self, item: Entry) -> str:
        return item.event.get_absolute_url()

    def item_extra_kwargs(self, item: Entry) -> dict[str, Any]:
        return {"title_shown": item.text("title"), "summary_shown": self._summary(item)}

    def item_guid(self, item: Entry) -> str:
        return f"urn:uuid:{item.event.uid}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Entry) -> dt.datetime:
        return item.event.created_at

    def item_updateddate(self, item: Entry) -> dt.datetime:
        return item.event.updated_at
