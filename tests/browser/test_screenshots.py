"""The main pages of the seeded demo, in a real browser: `make screenshots` saves them for the README.

Seeds exactly what `make run` seeds (portal.demo.seed: demo users, Clear Books on, a company
in every connection status linked to the sandbox), lets a real worker read the linked
company's books, then opens every main page as the demo admin. Each page must render
without a browser problem and without horizontal scrolling. With `--screenshots` each one
is also saved as docs/screenshots/NN-name.png; without it nothing is written.
"""

import io
from pathlib import Path

import pytest

from connections.models import Connection, PullOperation
from portal import demo
from portal.demo import companies as demo_companies

from .conftest import log_in, poll

# Fresh id sequences: the demo's pulls are #1 to #8 in the pictures, as after a first `make run`.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, reset_sequences=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}
MAX_HEIGHT = 1800  # the top of a long page says what it is; the README stays readable
DEADLINE = 150


def main_pages(linked, pending, pull):
    """(file name, path, what the page must show) for every page in the README, in reading order."""
    return [
        ("01-dashboard", "/dashboard/", "Dashboard"),
        ("02-integrations", "/integrations/", "Integrations"),
        ("03-manage-clear-books", "/integrations/jhch/", "Clear Books"),
        ("04-companies", "/companies/", "Companies"),
        ("05-company", f"/companies/{linked.company_id}/", linked.company.name),
        ("06-connection", f"/connections/{linked.pk}/", "Clear Books"),
        ("07-read-history", "/pulls/", "Read history"),
        ("08-pull", f"/pulls/{pull.pk}/", f"Pull #{pull.pk}"),
        ("09-record-browser", f"/connections/{linked.pk}/records/invoices/", "Invoices"),
        ("10-activity", "/activity/", "Activity"),
        ("11-link-page", f"/link/{pending.link_token}/", "Link your Clear Books books"),
    ]


def seed_demo():
    """The demo of `make run`; returns the linked connection, the pending one and its invoices pull."""
    demo.seed(io.StringIO())
    linked = Connection.objects.select_related("company").get(company__name=demo_companies.LINKED)
    pending = Connection.objects.get(company__name=demo_companies.PENDING)
    return linked, pending


def test_it_renders_the_main_pages_of_the_demo(new_page, url, sandbox, start_worker, request):
    save = request.config.getoption("screenshots")
    linked, pending = seed_demo()
    worker = start_worker()
    pulls = PullOperation.objects.filter(connection=linked)
    poll(
        lambda: pulls.exists() and not pulls.exclude(status=PullOperation.Status.COMPLETE).exists(),
        timeout=90,
        message=f"the demo's first-link pulls to complete\n{worker.log_tail()}",
    )
    pull = pulls.get(data_type="invoices")
    page = log_in(new_page(viewport=VIEWPORT), url, "admin", demo.DEMO_USERS[0][2])
    if save:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path, heading in main_pages(linked, pending, pull):
        if name == "11-link-page":
            page = new_page(viewport=VIEWPORT)  # the company's user: not logged in
        page.goto(url(path))
        assert heading in page.get_by_role("heading", level=1).inner_text(), name
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {VIEWPORT['width']}px"
        if save:
            height = min(page.evaluate("() => document.documentElement.scrollHeight"), MAX_HEIGHT)
            clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
            page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, clip=clip, animations="disabled")
