"""Fixtures for the integrations tests."""

import pytest

from integrations import registry
from integrations.catalogue import sync_catalogue
from integrations.models import Integration

from .testing_provider import BankProvider


@pytest.fixture
def bank_integration(db):
    """A second integration (Banking, with a secret setting), registered for one test."""
    registry.all_providers()  # load the real ones first
    registry.register(BankProvider)
    sync_catalogue()
    yield Integration.objects.get(key="tbnk")
    registry._registry.pop("tbnk", None)
