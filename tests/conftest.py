"""Shared fixtures: personas (admin alice, support sam, outsider olga) and logged-in clients."""

from pathlib import Path

import pytest

from tests import factory

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"

pytest_plugins = ["tests.plugins.sandbox", "tests.plugins.worker", "tests.plugins.browser", "tests.plugins.receiver"]


@pytest.fixture
def admin_user(db):
    return factory.make_admin()


@pytest.fixture
def support_user(db):
    return factory.make_support()


@pytest.fixture
def outsider_user(db):
    """Logged in, but in no role: sees nothing of the portal."""
    return factory.make_user("olga")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def support_client(client, support_user):
    client.force_login(support_user)
    return client


@pytest.fixture
def clearbooks(db):
    """The Clear Books integration row, switched on."""
    return factory.get_integration("jhch", enabled=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark what `make test-fast` leaves out even when a test forgets to: everything under
    tests/browser/ or using the browser is `browser`; anything starting a real qcluster is `e2e`.
    (tryfirst: before `-m` selects by these marks.)"""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.path.is_relative_to(BROWSER_TESTS) or fixtures & {"browser", "new_page"}:
            item.add_marker(pytest.mark.browser)
        if fixtures & {"worker", "start_worker"}:
            item.add_marker(pytest.mark.e2e)
