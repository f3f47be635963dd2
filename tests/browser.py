"""A real browser for the page tests: Debian's Chromium driven by Playwright, plus axe-core."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from django.test.testcases import LiveServerThread

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# As root in a closed network: no sandbox, and no background calls home that the network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


class BrowserUnavailable(RuntimeError):
    """Chromium or axe-core is not installed where `make test` puts them."""


def check_installed() -> None:
    """Fail with the command that installs what is missing."""
    if not CHROMIUM.is_file():
        raise BrowserUnavailable(f"{CHROMIUM} is missing: run `bash bin/ensure-browser`")
    if not AXE.is_file():
        raise BrowserUnavailable(f"{AXE} is missing: run `npm ci` in {ROOT}")


@contextlib.contextmanager
def chromium_browser() -> Iterator:
    """Start Debian's Chromium headless (Playwright downloads no browser)."""
    check_installed()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls in these tests are
    # ordinary blocking calls made between browser steps, never inside the loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class PageServer:
    """Serve the project over HTTP from a thread, static files by whitenoise as in production."""

    def __init__(self) -> None:
        # No test-only static handler: whitenoise serves the collected, hashed files.
        self.thread = LiveServerThread("127.0.0.1", static_handler=lambda app: app, port=0)
        self.thread.daemon = True

    def __enter__(self) -> "PageServer":
        self.thread.start()
        self.thread.is_ready.wait()
        if self.thread.error:
            raise self.thread.error
        return self

    def __exit__(self, *exc) -> None:
        self.thread.terminate()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.thread.port}"


def serious_violations(page) -> list[dict]:
    """Run axe-core in *page* and return its serious and critical violations."""
    # evaluate() runs outside the page's Content-Security-Policy; a <script> tag would be blocked.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ")).slice(0, 5),
            }));
        }"""
    )
    return [violation for violation in result if violation["impact"] in ("serious", "critical")]


def horizontal_overflow(page) -> int:
    """Return by how many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
