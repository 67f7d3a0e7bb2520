"""Journey 1: an admin switches Clear Books off (confirming) and on, changes a setting, and reads the history."""

import pytest

from integrations.models import AuditEvent, Integration
from tests import factory

from .conftest import click_and_wait, flash, link_directly, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_switches_clear_books_off_and_on_and_changes_a_setting(page, url, sandbox, admin_user):
    link_directly(factory.make_company("Acme Ltd"), sandbox.make_key(seed="acme", invoices=3))
    log_in(page, url, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    page.wait_for_url(url("/integrations/"))
    switch = page.get_by_role("switch", name="Clear Books: switched on")
    assert switch.get_attribute("aria-checked") == "true"

    # Switching off with a linked connection asks first, and says how many are affected.
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    switch.click()
    assert "1 linked connection" in questions[-1]
    assert Integration.objects.get(key="jhch").enabled  # dismissed: nothing changed
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    click_and_wait(page, switch)
    assert "switched off" in flash(page).lower()
    off = page.get_by_role("switch", name="Clear Books: switched off")
    assert off.get_attribute("aria-checked") == "false"
    assert not Integration.objects.get(key="jhch").enabled

    click_and_wait(page, off)  # switching on asks nothing
    assert page.get_by_role("switch", name="Clear Books: switched on").get_attribute("aria-checked") == "true"
    assert Integration.objects.get(key="jhch").enabled

    # A setting: refused with the reason next to the field, nothing saved; then saved.
    page.get_by_role("link", name="Manage Clear Books").click()
    page.wait_for_url(url("/integrations/jhch/"))
    timeout = page.get_by_label("Request timeout (seconds)")
    timeout.fill("0")
    click_and_wait(page, page.get_by_role("button", name="Save settings"))
    assert "Nothing was saved" in flash(page)
    field = page.locator(".field--error", has=page.get_by_label("Request timeout (seconds)"))
    assert "at least 1 second" in field.locator(".field-error").inner_text()
    assert Integration.objects.get(key="jhch").settings.get("timeout") in (None, 60)

    page.get_by_label("Request timeout (seconds)").fill("45")
    click_and_wait(page, page.get_by_role("button", name="Save settings"))
    assert "Settings saved" in flash(page)
    assert page.get_by_label("Request timeout (seconds)").input_value() == "45"

    # The history on the Manage page shows the switch both ways and the setting's before and after.
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    rows = history.locator("tbody tr").all_inner_texts()
    assert any("alice" in row and "60" in row and "45" in row for row in rows), rows
    assert sum("alice" in row for row in rows) >= 3, rows
    actions = list(AuditEvent.objects.filter(integration__key="jhch").values_list("action", flat=True))
    assert len(actions) >= 3
