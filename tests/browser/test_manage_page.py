"""The Manage page fits in about two screens (issue #13: it was 3,500 to 4,100 px tall, half of it History)."""

import pytest

from integrations import services
from integrations.models import AuditEvent

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 1280, "height": 900}


def test_the_manage_page_fits_in_two_screens_with_a_long_history(new_page, url, sandbox, clearbooks, admin_user):
    # A long history: switches, and settings changes touching several fields at once.
    for i in range(12):
        services.set_enabled(clearbooks, i % 2 == 1, admin_user)
    for i in range(12):
        AuditEvent.objects.create(
            actor=admin_user,
            actor_name=admin_user.get_username(),
            integration=clearbooks,
            action=AuditEvent.Action.SETTINGS_CHANGED,
            target=clearbooks.name,
            changes=[
                {"field": "timeout", "before": 60 + i, "after": 61 + i},
                {"field": "app_name", "before": f"App {i}", "after": f"App {i + 1}"},
                {"field": "portal_name", "before": f"Portal {i}", "after": f"Portal {i + 1}"},
            ],
        )
    page = log_in(new_page(viewport=VIEWPORT), url, "alice")
    page.goto(url("/integrations/jhch/"))
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height <= 2 * VIEWPORT["height"], f"the Manage page is {height}px tall"
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    assert history.locator("tbody tr").count() == 5
    changes = AuditEvent.objects.filter(integration=clearbooks).count()
    more = history.get_by_role("link", name=f"All {changes} changes to Clear Books on the Activity page →")
    more.click()
    page.wait_for_url(url(f"/activity/?integration={clearbooks.pk}"))
    # The WSDL URL set by the environment (the sandbox's) is stated once.
    page.goto(url("/integrations/jhch/"))
    assert page.locator("main").inner_text().count(sandbox.wsdl_url) == 1
