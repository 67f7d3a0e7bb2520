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

UNLABELLED_FIELDS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => !['hidden', 'submit', 'button'].includes(el.type))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby') && !el.title)
  .map(el => el.outerHTML.slice(0, 120))"""

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

BADGES_WITHOUT_TEXT = """() => Array.from(document.querySelectorAll('.badge'))
  .filter(b => !b.textContent.trim() || !/badge--(good|bad|warn|info|muted)/.test(b.className))
  .map(b => b.outerHTML)"""


def seeded_pages():
    linked, pending = seed_demo()
    pull = PullOperation.objects.filter(connection=linked, data_type="invoices").get()
    return main_pages(linked, pending, pull)


def test_it_labels_every_field_shows_focus_and_never_scrolls_sideways(new_page, url, sandbox):
    pages = seeded_pages()
    page = log_in(new_page(viewport={"width": 1024, "height": 800}), url, *ADMIN)
    for name, path, _ in pages:
        if name == "11-link-page":
            page = new_page(viewport={"width": 1024, "height": 800})
        page.goto(url(path))
        assert page.evaluate(UNLABELLED_FIELDS) == [], name
        assert page.evaluate(BADGES_WITHOUT_TEXT) == [], name
        for width in (1024, 800):
            page.set_viewport_size({"width": width, "height": 800})
            assert page.evaluate(SIDEWAYS) <= 0, f"{name} scrolls sideways at {width}px: {page.evaluate(WIDEST)}"
        page.set_viewport_size({"width": 1024, "height": 800})

        # The keyboard: the first Tab reaches "Skip to content", and every focus is outlined.
        page.locator("body").focus()
        page.keyboard.press("Tab")
        first = page.evaluate(FOCUSED)
        assert first["text"] == "Skip to content" and first["onScreen"] and first["outline"], (name, first)
        for _ in range(8):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused["tag"] == "BODY":
                break
            assert focused["outline"] and focused["onScreen"], (name, focused)


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
