"""A plain HTTP client for servers the tests start: cookies, no redirects followed, and a page's
form read back as a browser would submit it (for the admin's change forms, CSRF tokens)."""

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser

SKIPPED_INPUTS = {"submit", "button", "image", "reset", "file"}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class WebClient:
    """Talk to one server; clients made with the same *cookies* share them, as a browser's tabs
    do (cookies ignore the port: two servers on 127.0.0.1 see the same ones)."""

    def __init__(self, base: str, cookies: http.cookiejar.CookieJar | None = None) -> None:
        self.base = base
        self.cookies = cookies if cookies is not None else http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirects()
        )

    def request(self, method: str, path: str, data=None, headers: dict | None = None) -> Answer:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self._opener.open(request, timeout=60) as response:
                return Answer(response.status, _lower(response.headers), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, _lower(error.headers), error.read())

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data, headers: dict | None = None) -> Answer:
        return self.request("POST", path, data, {"Referer": self.base + path, **(headers or {})})


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class _FormReader(HTMLParser):
    """Collect the fields of the first form whose attributes include *wanted*."""

    def __init__(self, wanted: dict[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.wanted = wanted
        self.found = False
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value if value is not None else "" for name, value in attrs}
        if tag == "form" and not self.found:
            if all(attributes.get(name) == value for name, value in self.wanted.items()):
                self.found = self.inside = True
            return
        if not self.inside or "disabled" in attributes:
            return
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text").lower()
            if kind in SKIPPED_INPUTS:
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attributes:
                    self.fields.append((name, attributes.get("value", "on")))
                return
            self.fields.append((name, attributes.get("value", "")))
        elif tag == "select" and name:
            self._select = {"name": name, "multiple": "multiple" in attributes, "options": []}
        elif tag == "option" and self._select is not None:
            self._option = {
                "value": attributes.get("value"),
                "text": "",
                "selected": "selected" in attributes,
            }
            self._select["options"].append(self._option)
        elif tag == "textarea" and name:
            self._textarea = {"name": name, "text": ""}

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option["text"] += data
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            options = self._select["options"]
            chosen = [option for option in options if option["selected"]]
            if not chosen and options and not self._select["multiple"]:
                chosen = options[:1]
            for option in chosen:
                value = option["value"] if option["value"] is not None else option["text"].strip()
                self.fields.append((self._select["name"], value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # A browser drops the newline right after <textarea>.
            text = self._textarea["text"]
            text = text[1:] if text.startswith("\n") else text
            self.fields.append((self._textarea["name"], text.replace("\r\n", "\n")))
            self._textarea = None


def form_fields(html: str, **wanted: str) -> list[tuple[str, str]]:
    """Return the (name, value) pairs a browser would submit from the form with these attributes
    (e.g. id="event_form"), as the page fills it in; fail if the page has no such form."""
    reader = _FormReader(wanted)
    reader.feed(html)
    reader.close()
    assert reader.found, f"no form with {wanted} on the page"
    return reader.fields


def replaced(fields: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    """Return *fields* with the value of each field named in *values* replaced."""
    missing = set(values) - {name for name, _value in fields}
    assert not missing, f"the form has no field {sorted(missing)}"
    return [(name, values.get(name, value)) for name, value in fields]
