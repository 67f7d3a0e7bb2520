"""Codat's own Python SDK (`codat-platform`) manages webhook consumers here unchanged: create, list, delete."""

import base64

import pytest
from codat_platform import CodatPlatform
from codat_platform.models import shared
from codat_platform.utils import BackoffStrategy, RetryConfig

from connections.webhooks.models import Endpoint
from portal.api import keys

pytestmark = pytest.mark.django_db(transaction=True)


def test_codats_sdk_creates_lists_and_deletes_a_consumer(live_server, receiver):
    _, key = keys.create_key("sdk webhooks")
    with CodatPlatform(
        security=shared.Security(auth_header="Basic " + base64.b64encode(key.encode()).decode()),
        server_url=f"{live_server.url}/api",
        retry_config=RetryConfig("none", BackoffStrategy(1, 1, 1, 1), False),
        timeout_ms=30000,
    ) as codat:
        made = codat.webhooks.create_consumer(
            request={"url": receiver.url, "event_types": ["read.completed"], "company_tags": ["region:uk"]}
        )
        assert made.url == receiver.url and made.event_types == ["read.completed"] and not made.disabled
        listed = codat.webhooks.list_consumers()
        assert [str(c.id) for c in listed.results] == [str(made.id)]
        codat.webhooks.delete_consumer(request={"webhook_id": str(made.id)})
    assert not Endpoint.objects.exists()
