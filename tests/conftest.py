"""Shared fixtures: personas (admin alice, support sam, outsider olga) and logged-in clients."""

import pytest

from tests import factory

pytest_plugins = ["tests.plugins.sandbox", "tests.plugins.worker", "tests.plugins.browser"]


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
