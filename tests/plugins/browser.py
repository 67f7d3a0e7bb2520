"""pytest fixtures for browser journeys: Playwright for Python driving Debian's Chromium.

No browser is downloaded: Playwright launches /usr/bin/chromium (CHROMIUM_PATH), which
`make test` installs with apt when it may (`make system-deps`). Every page fixture fails
its test on any console error, uncaught page error, failed request, request to another host
or error response, unless the test expects it, and on any Content-Security-Policy violation
(each `securitypolicyviolation` event, reported from the page) or page served without the policy.
"""

import os
import shutil
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's hosts,
# which this machine's closed network refuses.
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


def pytest_addoption(parser):
    parser.addoption(
        "--screenshots",
        action="store_true",
        default=False,
        help="tests/browser/test_screenshots.py writes the pages' PNGs into docs/screenshots/ (`make screenshots`).",
    )


LOCAL_HOSTS = {"localhost", "127.0.0.1"}

# Runs in every document before the page's own scripts (Playwright injects it outside the page's
# CSP): every violation the browser reports is sent to the test through an exposed binding.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation({
    directive: event.effectiveDirective, blocked: event.blockedURI, page: event.documentURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
  });
});
"""


class BrowserProblems:
    """What went wrong in the browser during one test."""

    def __init__(self):
        self.problems = []
        self.allowed_statuses = set()

    def allow_status(self, *statuses):
        """Let responses with these HTTP statuses pass (e.g. 403 when a test checks a refusal)."""
        self.allowed_statuses.update(statuses)

    def watch_csp(self, context):
        """Report every Content-Security-Policy violation in this browser context's pages."""
        context.expose_binding("__cspViolation", lambda source, violation: self._on_csp_violation(violation))
        context.add_init_script(REPORT_CSP_VIOLATIONS)

    def _on_csp_violation(self, violation):
        self.problems.append(f"CSP violation: {violation}")

    def attach(self, page):
        page.on("request", self._on_request)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def _on_console(self, message):
        if message.type == "error" and not self._is_expected_console(message.text):
            self.problems.append(f"console error: {message.text}")

    def _is_expected_console(self, text):
        # Chromium logs the allowed error statuses as "Failed to load resource: ... 403".
        return any(f"status of {status}" in text for status in self.allowed_statuses)

    def _on_request(self, request):
        # Every asset is vendored and served by the portal itself: nothing may come from a CDN.
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http:", "https:")) and host not in LOCAL_HOSTS:
            self.problems.append(f"request to another host: {request.method} {request.url}")

    def _on_request_failed(self, request):
        failure = request.failure or ""
        # A navigation that replaces an in-flight request (e.g. htmx polling while the
        # test clicks a link) is aborted by the browser itself, not a network failure.
        if "ERR_ABORTED" in failure:
            return
        self.problems.append(f"request failed: {request.method} {request.url} {failure}")

    def _on_response(self, response):
        if response.status >= 400 and response.status not in self.allowed_statuses:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")
        # Every page the portal serves carries the policy (the header, not a <meta>: frame-ancestors needs it).
        is_page = response.request.resource_type == "document" and 200 <= response.status < 300
        if is_page and "frame-ancestors 'none'" not in response.headers.get("content-security-policy", ""):
            self.problems.append(f"no Content-Security-Policy: {response.request.method} {response.url}")


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `sudo apt-get install chromium` (Debian/Ubuntu), "
            "or `make test-fast` to skip the browser tests."
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread for the rest of
    # the session; Django's ORM refuses to run "in an async context" unless told it is
    # safe. The tests talk to the database from this one thread only, so it is.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_problems():
    return BrowserProblems()


@pytest.fixture
def new_page(browser, browser_problems):
    """A factory of pages, each in a fresh browser context (its own cookies)."""
    contexts = []

    def make(**context_options):
        context_options.setdefault("viewport", {"width": 1280, "height": 900})
        context_options.setdefault("timezone_id", "Europe/London")
        context_options.setdefault("locale", "en-GB")
        context = browser.new_context(**context_options)
        context.set_default_timeout(15_000)
        browser_problems.watch_csp(context)
        contexts.append(context)
        page = context.new_page()
        browser_problems.attach(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not browser_problems.problems, "Browser problems:\n" + "\n".join(browser_problems.problems)


@pytest.fixture
def page(new_page):
    return new_page()
