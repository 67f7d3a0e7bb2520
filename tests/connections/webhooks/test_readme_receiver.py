"""The README's receiver example, run as written against a real signed delivery (and a forged one)."""

import re
from pathlib import Path

import pytest

from connections import lifecycle
from connections.webhooks import delivery, endpoints
from connections.webhooks.models import Message

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_receiver() -> dict:
    text = README.read_text()
    section = text[text.index("## Webhooks") :]
    code = re.search(r"A receiver, verifying.*?```python\n(.*?)```", section, re.S).group(1)
    namespace = {"__name__": "readme_receiver"}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README's example
    return namespace


def test_the_readme_receiver_verifies_a_delivery_and_deduplicates(receiver):
    endpoint, secret = endpoints.create(receiver.url, ["company.created"], actor_name="test")
    lifecycle.create_company("Acme Ltd")
    delivery.deliver(Message.objects.get().pk)
    got = receiver.received[0]
    example = readme_receiver()

    assert example["handle"](got.body.encode(), got.headers, secret) == 204
    assert example["seen"] == {got.json["id"]}
    assert example["handle"](got.body.encode(), got.headers, secret) == 204  # again: deduplicated
    forged = got.body.replace("Acme Ltd", "Evil Ltd").encode()
    assert example["handle"](forged, got.headers, secret) == 400
    assert example["handle"](got.body.encode(), got.headers, endpoints.secrets.new_secret()) == 400
