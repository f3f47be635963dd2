"""An editor imports an .ics file and a CSV file through the admin, in Debian's Chromium.

The editor logs in through the real form with their authenticator code, uploads each file on
the import page, reads the dry run (every row, each changed field's old and new value), confirms,
and lands on the changelist with the events; all under the site's Content-Security-Policy.
"""

import datetime as dt
import re
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django_otp.plugins.otp_totp.models import TOTPDevice

from timeline.models import Event

from .browser import DESKTOP, PageServer, chromium_browser, serious_violations
from .conftest import _ensure_groups
from .factories import EventFactory
from .test_admin_browser import RECORD_VIOLATIONS
from .two_factor import totp_code

pytestmark = pytest.mark.django_db(transaction=True)

# Looked at by whoever changes these pages: does the dry run still look finished?
SCREENSHOT = Path(tempfile.gettempdir()) / "import-dry-run.png"

VISIT_ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example desk//Planner//EN\r
BEGIN:VEVENT\r
UID:visit-2026-05@desk.example\r
DTSTAMP:20260101T090000Z\r
DTSTART;VALUE=DATE:20260504\r
SUMMARY:Working visit to Astana\r
END:VEVENT\r
END:VCALENDAR\r
"""

TALKS_CSV = (
    b"slug,kind,precision,start_date,title_en\n"
    b"talks,meeting,day,2025-11-11,Talks in Astana\n"
    b"energy-forum,meeting,day,2026-03-02,Energy forum\n"
)


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def site(transactional_db, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    _ensure_groups()
    editor = User.objects.create_user("eddie", "eddie@example.com", "pw-eddie-123", is_staff=True)
    editor.groups.add(Group.objects.get(name="Editors"))
    TOTPDevice.objects.create(user=editor, name="phone", confirmed=True)
    EventFactory(slug="talks", title="Talks", start_date=dt.date(2025, 11, 11))
    with PageServer() as server:
        yield server.url


def log_in(page, site: str) -> None:
    page.goto(f"{site}/admin/")
    page.get_by_label("Username").fill("eddie")
    page.get_by_label("Password").fill("pw-eddie-123")
    page.get_by_label("Authentication code").fill(totp_code(TOTPDevice.objects.get()))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/admin/")


def upload(page, site: str, name: str, content: bytes, mime: str) -> None:
    page.goto(f"{site}/admin/timeline/event/")
    page.get_by_role("link", name="Import", exact=True).click()
    page.wait_for_url(f"{site}/admin/timeline/event/import/")
    page.get_by_label("File").set_input_files({"name": name, "mimeType": mime, "buffer": content})
    page.get_by_role("button", name="Upload and show the dry run").click()
    page.wait_for_url(re.compile(r".*/admin/timeline/event/import/[0-9a-f-]{36}/$"))


def confirm(page, site: str) -> None:
    page.get_by_role("button", name="Confirm: import these events").click()
    page.wait_for_url(f"{site}/admin/timeline/event/")


def test_an_editor_imports_an_ics_and_a_csv_file(browser, site):
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(RECORD_VIOLATIONS)  # init scripts run outside the page's policy
    page = context.new_page()
    log_in(page, site)
    violations: list[str] = []

    upload(page, site, "visit.ics", VISIT_ICS, "text/calendar")
    table = page.locator(".import-plan table")
    [row] = table.locator("tbody tr").all()
    assert "New" in row.locator("td.change").inner_text()
    assert row.locator("td.key").inner_text() == "visit-2026-05@desk.example"
    assert "Working visit to Astana" in row.inner_text()
    violations += page.evaluate("window.__violations")
    confirm(page, site)
    assert page.get_by_text("Imported 1 new and 0 changed events from visit.ics.").is_visible()
    assert page.locator("#result_list").get_by_text("Working visit to Astana").is_visible()

    upload(page, site, "talks.csv", TALKS_CSV, "text/csv")
    talks = page.locator("tbody tr", has_text="talks").first
    assert "Changed" in talks.locator("td.change").inner_text()
    difference = talks.locator(".differences li", has_text="Talks in Astana")
    assert difference.locator("del").inner_text() == "Talks"
    assert difference.locator("ins").inner_text() == "Talks in Astana"
    forum = page.locator("tbody tr", has_text="energy-forum")
    assert "New" in forum.locator("td.change").inner_text()
    assert "2026-03-02" in forum.inner_text()
    assert page.get_by_text("Dry run: nothing has been written yet.").is_visible()
    violations += page.evaluate("window.__violations")
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert serious_violations(page) == []
    confirm(page, site)
    assert page.get_by_text("Imported 1 new and 1 changed events from talks.csv.").is_visible()
    listed = page.locator("#result_list")
    assert listed.get_by_text("Talks in Astana").is_visible()
    assert listed.get_by_text("Energy forum").is_visible()
    violations += page.evaluate("window.__violations")

    assert violations == [], violations
    assert Event.objects.count() == 3
    assert not Event.objects.filter(slug="energy-forum", published=True).exists()
    context.close()
