"""nginx in front of gunicorn, as docker-compose.yml runs it: clients see what Django sends.

gunicorn runs as the Dockerfile runs it, and Debian's nginx with the project's template
(deploy/nginx/timeline.conf.template) in front of it. The same requests, sent to both, must
get the same answers: status, bytes and headers. Public feeds come from nginx's cache (fresh
for 1 s, then revalidated); private feeds never do, so a revoked one stops at once.
"""

import datetime as dt
import gzip
import http.client
import re
import time
from email.utils import format_datetime

import pytest
from django.conf import settings
from django.utils import timezone

from timeline.feeds import publishing
from timeline.feeds.views import _accepts_gzip
from timeline.models import Event
from timeline.security.log_redaction import SECRET_PATH_PREFIXES

from .factories import EventFactory, PrivateFeedFactory, TopicFactory
from .nginx import TEMPLATE, envsubst, render_project_config, start_in_front
from .processes import free_port, gunicorn_as_deployed, http_status, start_server, stop, wait_for

pytestmark = pytest.mark.slow

# The stated bound: the template's proxy_cache_valid (1 s), then Django's own (each process reads
# the publish stamp at most every FEED_STAMP_CHECK_SECONDS); and a margin for a busy machine.
VALIDITY = 1.0 + settings.FEED_STAMP_CHECK_SECONDS
MARGIN = 1.0
# Headers each hop writes for itself.
HOP_HEADERS = {"date", "server", "connection", "keep-alive", "transfer-encoding"}
# Accept-Encoding as clients write it, and what Django makes of each.
ACCEPT_ENCODINGS = [
    None,
    "gzip",
    "gzip, deflate, br",
    "br;q=1.0, gzip;q=0.8, *;q=0.1",
    "identity",
    "deflate, *",
    "gzip;q=0",
    "GZIP ; Q = 0.000",
    "gzip;q=0.0000",
    "*;q=0, gzip",
    "deflate;q=0.5, gzip;q=0",
    "x-gzip",
    "",
]


class Response:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.body = response.read()
        self.headers = {
            name.lower(): value
            for name, value in response.getheaders()
            if name.lower() not in HOP_HEADERS
        }

    def __repr__(self) -> str:
        return f"<{self.status} {len(self.body)} bytes {self.headers}>"


def request(base: str, path: str, method: str = "GET", **headers: str | None) -> Response:
    """Send exactly these headers (http.client adds no Accept-Encoding of its own here)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            if value is not None:
                connection.putheader(name.replace("_", "-"), value)
        connection.endheaders()
        return Response(connection.getresponse())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory):
    """Start gunicorn as the Dockerfile runs it, and nginx with the template in front of it."""
    folder = tmp_path_factory.mktemp("nginx")
    port = free_port()
    gunicorn = start_server(gunicorn_as_deployed(port), folder / "gunicorn.log", DEBUG="0")
    nginx = None
    try:
        wait_for(
            lambda: http_status(f"http://127.0.0.1:{port}/healthz?scope=web") == 200, timeout=120
        )
        nginx = start_in_front(folder / "nginx", port)
        yield f"http://127.0.0.1:{port}", nginx
    finally:
        if nginx is not None:
            nginx.stop()
        stop(gunicorn)


def cache_statuses(nginx, path: str, requests: int) -> list[str]:
    """Return the cache status of each of the *requests* for *path* in nginx's access log, in
    order, once nginx has written their lines (it writes its log in blocks, each within 1 s)."""
    pattern = re.compile(rf'"[A-Z]+ {re.escape(path)} HTTP/[\d.]+" .* cache=(\S+) ')

    def statuses() -> list[str]:
        return [match[1] for match in pattern.finditer(nginx.access_log.read_text())]

    wait_for(lambda: len(statuses()) >= requests, timeout=10)
    return statuses()


def topic_feed(slug: str, count: int = 3) -> str:
    """Create a topic with *count* upcoming events; return its English feed's path."""
    topic = TopicFactory(slug=slug, name=slug.title())
    start = timezone.now().date() + dt.timedelta(days=30)
    for number in range(count):
        EventFactory(start_date=start + dt.timedelta(days=number)).topics.add(topic)
    return f"/feeds/en/topics/{slug}.ics"


def assert_same(direct: Response, proxied: Response, what: str) -> None:
    assert proxied.status == direct.status, what
    assert proxied.body == direct.body, what
    expected, got = dict(direct.headers), dict(proxied.headers)
    if direct.status == 304:
        # Django's CommonMiddleware gives a 304 "Content-Length: 0", which RFC 9110 (8.6)
        # forbids (it must be the 200's length, or absent): nginx's own 304 leaves it out.
        assert expected.pop("content-length", "0") == "0", what
        assert got.pop("content-length", "0") == "0", what
    assert got == expected, what


# --- The template -----------------------------------------------------------------------------


def test_the_template_is_rendered_as_envsubst_renders_it(tmp_path):
    text = TEMPLATE.read_text()
    names = set(re.findall(r"\$\{(TIMELINE_[A-Z_]+)\}", text))
    assert names == {
        "TIMELINE_LISTEN",
        "TIMELINE_UPSTREAM",
        "TIMELINE_CACHE_DIR",
        "TIMELINE_ACCESS_LOG",
        "TIMELINE_ERROR_LOG",
    }
    rendered = render_project_config(tmp_path, "web:8000", 8080)
    assert "${TIMELINE_" not in rendered and "$TIMELINE_" not in rendered
    # nginx's own variables are left for nginx, as envsubst leaves names it was not given.
    assert "$proxy_add_x_forwarded_for" in rendered and "$timeline_before[redacted]" in rendered
    assert envsubst("$A ${A} $AB ${B} $a", {"A": "1"}) == "1 1 $AB ${B} $a"


def test_the_template_knows_every_secret_path():
    # Its access log cuts their tokens, and its error log keeps quiet on them.
    wanted = sorted(prefix.rstrip("/") for prefix in SECRET_PATH_PREFIXES)
    lists = re.findall(r"/\(\?:([a-z/|]+)\)/", TEMPLATE.read_text())
    assert len(lists) == 3
    for found in lists:
        assert sorted(found.split("|")) == wanted


@pytest.mark.parametrize("accept_encoding", ACCEPT_ENCODINGS)
def test_django_and_the_template_agree_on_gzip(rf, accept_encoding):
    # The template's map, read as nginx reads it (first matching regex, case-insensitive).
    (body,) = re.findall(
        r"map \$http_accept_encoding \$timeline_gzip \{(.*?)\n\}", TEMPLATE.read_text(), re.S
    )
    rules = re.findall(r'"~\*(.*)" (\S*?);', body.replace('""', "''"))
    value = accept_encoding or ""
    chosen = next((result for pattern, result in rules if re.search(pattern, value, re.I)), "''")
    request = (
        rf.get("/", HTTP_ACCEPT_ENCODING=value) if accept_encoding is not None else rf.get("/")
    )
    assert (chosen == "gzip") == _accepts_gzip(request), accept_encoding


# --- Public feeds -----------------------------------------------------------------------------


def test_public_feeds_answer_exactly_as_django_does(transactional_db, servers):
    direct, nginx = servers
    path = topic_feed("energy")
    plain = request(direct, path)
    zipped = request(direct, path, Accept_Encoding="gzip")
    assert plain.status == zipped.status == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == plain.body
    # The cache keys a copy by its URL and encoding alone (it ignores Vary): Django must vary
    # on nothing else, and set no cookie.
    assert plain.headers["vary"] == zipped.headers["vary"] == "Accept-Encoding"
    assert "set-cookie" not in plain.headers and "set-cookie" not in zipped.headers
    etag, zipped_etag = plain.headers["etag"], zipped.headers["etag"]
    last_modified = plain.headers["last-modified"]
    earlier = format_datetime(timezone.now() - dt.timedelta(days=400), usegmt=True)
    later = format_datetime(timezone.now() + dt.timedelta(days=1), usegmt=True)
    variants: list[tuple[str, dict[str, str | None]]] = [
        ("GET", {"Accept_Encoding": value}) for value in ACCEPT_ENCODINGS
    ]
    variants += [
        ("HEAD", {}),
        ("HEAD", {"Accept_Encoding": "gzip"}),
        ("GET", {"If_None_Match": etag}),
        ("HEAD", {"If_None_Match": etag}),
        ("GET", {"If_None_Match": zipped_etag, "Accept_Encoding": "gzip"}),
        ("GET", {"If_None_Match": zipped_etag}),  # the gzip variant's tag, asked for identity
        ("GET", {"If_None_Match": '"an-old-version"'}),
        ("GET", {"If_None_Match": f'"an-old-version", {etag}'}),
        ("GET", {"If_None_Match": f"W/{etag}"}),
        ("GET", {"If_None_Match": "*"}),
        ("GET", {"If_Modified_Since": last_modified}),
        ("GET", {"If_Modified_Since": later}),
        ("GET", {"If_Modified_Since": earlier}),
        ("GET", {"If_Modified_Since": "not a date"}),
        ("GET", {"If_Modified_Since": last_modified, "Accept_Encoding": "gzip"}),
        ("GET", {"If_None_Match": etag, "If_Modified_Since": last_modified}),
        ("GET", {"If_None_Match": '"an-old-version"', "If_Modified_Since": last_modified}),
        ("GET", {"Range": "bytes=0-10"}),
        ("GET", {"Range": "bytes=0-10", "Accept_Encoding": "gzip"}),
    ]
    for method, headers in variants:
        what = f"{method} {headers}"
        expected = request(direct, path, method, **headers)
        # The first may fill the cache; the second comes from it.
        assert_same(expected, request(nginx.base, path, method, **headers), what)
        assert_same(expected, request(nginx.base, path, method, **headers), what)
    served = cache_statuses(nginx, path, 2 * len(variants))
    assert len(served) == 2 * len(variants)
    # Filled once per encoding; after that, Django was only asked whether it changed (a copy
    # older than a second is REVALIDATED), and the second of each pair came from the cache.
    assert served.count("MISS") <= 2, served
    assert set(served) <= {"MISS", "HIT", "REVALIDATED", "UPDATING"}, served
    assert set(served[1::2]) <= {"HIT", "REVALIDATED", "UPDATING"}, served
    assert "HIT" in served, served


def test_two_cached_copies_per_feed_however_clients_write_accept_encoding(
    transactional_db, servers
):
    _, nginx = servers
    path = topic_feed("transport")
    for value in ACCEPT_ENCODINGS:
        assert request(nginx.base, path, Accept_Encoding=value).status == 200

    def cached_keys() -> list[bytes]:
        return sorted(
            line.rsplit(b" ", 1)[1]
            for entry in (nginx.folder / "cache").rglob("*")
            if entry.is_file()
            for line in entry.read_bytes().split(b"\n")[:3]
            if line.startswith(b"KEY: ") and path.encode() in line
        )

    # (A copy's file is in place once its response is complete: maybe just after the client
    # has it.)
    wait_for(lambda: len(cached_keys()) >= 2, timeout=10)
    assert cached_keys() == [b"", b"gzip"]


def test_other_spellings_of_a_feed_path_are_not_cached(transactional_db, servers):
    direct, nginx = servers
    path = topic_feed("water")
    for spelling in (f"{path}?fresh=1", path.replace("/water", "/%77ater")):
        for _ in range(2):
            expected = request(direct, spelling)
            assert_same(expected, request(nginx.base, spelling), spelling)
        assert set(cache_statuses(nginx, spelling, 2)) == {"BYPASS"}, spelling


def test_an_edit_is_served_once_the_cached_copy_expires(transactional_db, servers):
    direct, nginx = servers
    path = topic_feed("nuclear")
    old = request(nginx.base, path)
    old_zipped = request(nginx.base, path, Accept_Encoding="gzip")
    assert request(nginx.base, path).headers["etag"] == old.headers["etag"]  # cached

    event = Event.objects.filter(topics__slug="nuclear").first()
    event.title_en = "Renamed after the announcement"
    event.save()
    publishing.publish_changes([event.pk])
    time.sleep(VALIDITY + MARGIN)

    new = request(nginx.base, path)
    new_zipped = request(nginx.base, path, Accept_Encoding="gzip")
    assert b"Renamed after the announcement" in new.body
    assert new.headers["etag"] != old.headers["etag"]
    assert new_zipped.headers["etag"] != old_zipped.headers["etag"]
    assert_same(request(direct, path), new, "identity after the edit")
    assert_same(request(direct, path, Accept_Encoding="gzip"), new_zipped, "gzip after the edit")
    # From the cache now (a new file in place of the old one's): the new version.
    assert_same(new, request(nginx.base, path), "cached after the edit")
    # A client holding the old version is sent the new one, one holding the new gets a 304.
    assert request(nginx.base, path, If_None_Match=old.headers["etag"]).status == 200
    assert request(nginx.base, path, If_None_Match=new.headers["etag"]).status == 304


# --- Everything else --------------------------------------------------------------------------


def test_a_revoked_private_feed_stops_at_once(transactional_db, servers):
    direct, nginx = servers
    topic_feed("oil")
    feed = PrivateFeedFactory(topics=[TopicFactory._meta.model.objects.get(slug="oil")])
    path = f"/feeds/private/{feed.token}.ics"
    for _ in range(2):
        expected = request(direct, path)
        assert expected.status == 200
        assert_same(expected, request(nginx.base, path), "private feed")
    etag = expected.headers["etag"]
    assert_same(
        request(direct, path, If_None_Match=etag),
        request(nginx.base, path, If_None_Match=etag),
        "private feed, revalidated",
    )
    feed.revoke()
    gone = request(nginx.base, path)
    assert gone.status == 404
    assert_same(request(direct, path), gone, "revoked private feed")
    # Never cached; and the token is not in nginx's log.
    redacted = "/feeds/private/[redacted]"
    wait_for(lambda: nginx.access_log.read_text().count(redacted) >= 4, timeout=10)
    log = nginx.access_log.read_text()
    assert feed.token not in log
    assert feed.token[:16] not in log and feed.token[-16:] not in log


def test_secret_links_stay_out_of_the_log_however_the_path_is_spelled(transactional_db, servers):
    _, nginx = servers
    path = topic_feed("grain")
    token = "Zq3-not-a-real-token-but-secret-shaped"
    # Logged as asked: the first spelling is served as the feed itself (nginx resolves the dot
    # segments), and the Referer of a poll names a private feed.
    request(nginx.base, f"/confirm/{token}/../..{path}")
    request(nginx.base, path, Referer=f"https://timeline.test/feeds/private/{token}.ics")
    lines = ('"GET /confirm/[redacted]', '"https://timeline.test/feeds/private/[redacted]"')
    wait_for(lambda: all(line in nginx.access_log.read_text() for line in lines), timeout=10)
    log = nginx.access_log.read_text()
    assert token not in log and token[:12] not in log


def test_pages_pass_through_uncached(transactional_db, servers):
    direct, nginx = servers
    for path in ("/en/", "/en/feeds/", "/healthz", "/feeds/en/topics/unknown.ics"):
        expected = request(direct, path)
        assert request(nginx.base, path).status == expected.status, path
        assert request(nginx.base, path).status == expected.status, path
        assert set(cache_statuses(nginx, path, 2)) <= {"-", "MISS"}, path


@pytest.mark.parametrize(("forwarded_proto", "status"), [(None, 301), ("https", 200)])
def test_django_believes_the_scheme_nginx_forwards_from_a_trusted_proxy(
    transactional_db, tmp_path, forwarded_proto, status
):
    # As in docker-compose.yml: TRUSTED_PROXIES holds nginx's address, https is required.
    port = free_port()
    gunicorn = start_server(
        gunicorn_as_deployed(port),
        tmp_path / "gunicorn.log",
        DEBUG="0",
        SECURE_SSL_REDIRECT="1",
        TRUSTED_PROXIES="127.0.0.1",
    )
    try:
        wait_for(
            lambda: http_status(f"http://127.0.0.1:{port}/healthz?scope=web") == 200, timeout=120
        )
        nginx = start_in_front(tmp_path / "nginx", port)
        try:
            # What the TLS proxy in front of nginx says, nginx passes on; without it, its own
            # plain http, which Django redirects to https.
            response = request(nginx.base, "/en/feeds/", X_Forwarded_Proto=forwarded_proto)
            assert response.status == status
        finally:
            nginx.stop()
    finally:
        stop(gunicorn)
