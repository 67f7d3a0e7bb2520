"""Accessibility and layout basics on every main page of the demo, in a real browser.

Every field has a label; keyboard focus is visible; statuses carry text as well as colour;
no page scrolls sideways on a narrow laptop (1024 px) or a small window (800 px); and the
core actions work with JavaScript switched off (plain form POSTs).
"""

import pytest

from connections.models import Company, PullOperation
from integrations.models import Integration
from portal import demo
from tests import factory

from .conftest import click_and_wait, flash, link_directly, log_in
from .test_screenshots import main_pages, seed_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN = ("admin", demo.DEMO_USERS[0][2])
TAB_STOPS = 30  # per page: the header, the page's actions and its first fields

UNLABELLED_FIELDS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => !['hidden', 'submit', 'button'].includes(el.type))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby') && !el.title)
  .map(el => el.outerHTML.slice(0, 120))"""

# aria-describedby / aria-labelledby that point at nothing (e.g. a help text the template left out).
BROKEN_REFERENCES = """() => Array.from(document.querySelectorAll('[aria-describedby], [aria-labelledby]'))
  .flatMap(el => ['aria-describedby', 'aria-labelledby'].flatMap(name => (el.getAttribute(name) || '')
    .split(/\\s+/).filter(id => id && !document.getElementById(id)).map(id => `${el.tagName} ${name}=${id}`)))"""

SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

# What the focused element looks like: its tag and text, and whether it has a visible outline.
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  return {tag: el.tagName, text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
          onScreen: rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0};
}"""

# The elements that stick out on the right, deepest first: what makes a page scroll sideways.
WIDEST = """() => Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(-3).map(el => el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 40))"""

FIRST_FOCUSABLE = """() => document.querySelector('a[href], button, input:not([type=hidden]), select, textarea')
  .textContent.trim()"""

BADGES_WITHOUT_TEXT = """() => Array.from(document.querySelectorAll('.badge'))
  .filter(b => !b.textContent.trim() || !/badge--(good|bad|warn|info|muted)/.test(b.className))
  .map(b => b.outerHTML)"""


def pages_to_check():
    """(name, path, logged in) for the main pages and the forms, on the seeded demo."""
    linked, pending = seed_demo()
    pull = PullOperation.objects.filter(connection=linked, data_type="invoices").get()
    record = factory.make_record(linked, "invoices", attributes={"lines": [{"vat": "2.00"}]})
    pages = [(name, path, name != "11-link-page") for name, path, _ in main_pages(linked, pending, pull)]
    return pages + [
        ("company form", "/companies/new/", True),
        ("company sync settings", f"/companies/{linked.company_id}/sync-settings/", True),
        ("connection form", f"/companies/{pending.company_id}/connections/new/", True),
        ("record", f"/records/{record.pk}/", True),
        ("login", "/accounts/login/", False),
    ]


def check_page(page, name):
    assert page.evaluate(UNLABELLED_FIELDS) == [], name
    assert page.evaluate(BADGES_WITHOUT_TEXT) == [], name
    assert page.evaluate(BROKEN_REFERENCES) == [], name
    for width in (1024, 800):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate(SIDEWAYS) <= 0, f"{name} scrolls sideways at {width}px: {page.evaluate(WIDEST)}"
    page.set_viewport_size({"width": 1024, "height": 800})

    # The keyboard: "Skip to content" comes first (the first Tab reaches it, unless a field has the
    # focus already, as on the login page); every later stop is outlined and on screen.
    assert page.evaluate(FIRST_FOCUSABLE) == "Skip to content", name
    if page.evaluate("() => document.activeElement === document.body"):
        page.keyboard.press("Tab")
        first = page.evaluate(FOCUSED)
        assert first["text"] == "Skip to content" and first["onScreen"] and first["outline"], (name, first)
    for _ in range(TAB_STOPS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] == "BODY":
            break
        assert focused["outline"] and focused["onScreen"], f"{name}: {focused}"


def test_it_labels_every_field_shows_focus_and_never_scrolls_sideways(new_page, url, sandbox):
    pages = pages_to_check()
    admin = log_in(new_page(viewport={"width": 1024, "height": 800}), url, *ADMIN)
    anonymous = new_page(viewport={"width": 1024, "height": 800})
    for name, path, logged_in in pages:
        page = admin if logged_in else anonymous
        page.goto(url(path))
        check_page(page, name)


def test_it_does_the_core_actions_without_javascript(new_page, url, sandbox):
    seed_demo()
    linked = link_directly(factory.make_company("Quiet Books Ltd"), sandbox.make_key(seed="quiet", invoices=2))
    page = log_in(new_page(java_script_enabled=False), url, *ADMIN)

    # Switching off an integration with linked connections: the server asks, then does it.
    page.goto(url("/integrations/"))
    click_and_wait(page, page.get_by_role("switch", name="Clear Books: switched on"))
    assert page.get_by_role("heading", level=1).inner_text() == "Switch off Clear Books?"
    click_and_wait(page, page.get_by_role("button", name="Switch off Clear Books"))
    assert not Integration.objects.get(key="jhch").enabled
    click_and_wait(page, page.get_by_role("switch", name="Clear Books: switched off"))
    assert Integration.objects.get(key="jhch").enabled

    # A company, and a refresh of a linked connection.
    page.goto(url("/companies/new/"))
    page.get_by_label("Name").fill("No Script Ltd")
    click_and_wait(page, page.get_by_role("button", name="Add company"))
    assert "No Script Ltd created" in flash(page)
    assert Company.objects.filter(name="No Script Ltd").exists()
    page.goto(url(f"/connections/{linked.pk}/"))
    click_and_wait(page, page.get_by_role("button", name="Refresh data").first)
    assert "Refresh queued" in flash(page)
    assert PullOperation.objects.filter(connection=linked, trigger=PullOperation.Trigger.MANUAL).count() == 8
