"""Shared by the webhook tests: verifying a delivery with the two libraries receivers use."""

import standardwebhooks
import svix.webhooks


def verify_both(secret, received):
    """Verify a received delivery with `standardwebhooks` and with `svix`, each its own way; returns the JSON."""
    headers = {name.lower(): value for name, value in received.headers.items()}
    payload = standardwebhooks.Webhook(secret).verify(received.body, headers)
    svix_headers = {name: value for name, value in headers.items() if name.startswith("svix-")}
    svix.webhooks.Webhook(secret).verify(received.body, svix_headers)
    return payload
