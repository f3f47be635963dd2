"""The admin under the site's Content-Security-Policy, in Debian's Chromium over plain http.

The policy allows no inline script or style; here an editor logs in through the real form
(secure cookies on http://127.0.0.1, as the fault suite does) with their authenticator app's
code, and uses the event form, whose scripts (slug prefill, autocomplete, inlines) must all run
without one violation.
"""

import pytest
from django.contrib.auth.models import User
from django_otp.plugins.otp_totp.models import TOTPDevice

from .browser import DESKTOP, PageServer, chromium_browser
from .two_factor import totp_code

pytestmark = pytest.mark.django_db(transaction=True)

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def site(transactional_db, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    chief = User.objects.create_superuser("chief", "chief@example.com", "pw-chief-123")
    TOTPDevice.objects.create(user=chief, name="phone", confirmed=True)
    with PageServer() as server:
        yield server.url


def test_admin_works_under_the_content_security_policy(browser, site, settings):
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE  # production's
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(RECORD_VIOLATIONS)  # init scripts run outside the page's policy
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: message.type == "error" and console.append(message.text))

    page.goto(f"{site}/admin/")
    page.get_by_label("Username").fill("chief")
    page.get_by_label("Password").fill("pw-chief-123")
    page.get_by_label("Authentication code").fill(totp_code(TOTPDevice.objects.get()))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/admin/")
    assert page.get_by_role("heading", name="The record").is_visible()
    violations = page.evaluate("window.__violations")

    page.goto(f"{site}/admin/timeline/event/add/")
    page.get_by_label("Title [en]").press_sequentially("Summit in Astana")
    # The admin's prepopulate script ran: the slug follows the title.
    assert page.get_by_label("Slug").input_value() == "summit-in-astana"
    # Autocomplete (select2) opens and shows its search box.
    page.locator(".field-place .select2-selection").click()
    assert page.locator(".select2-dropdown .select2-search__field").is_visible()
    violations += page.evaluate("window.__violations")

    assert violations == []
    assert not [text for text in console if "Content Security Policy" in text], console
    context.close()
