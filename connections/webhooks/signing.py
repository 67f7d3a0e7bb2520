"""Standard Webhooks signatures (the scheme Codat's deliveries use, through Svix).

The signed content is `{id}.{timestamp}.{body}`; each secret gives one `v1,<base64 HMAC-SHA256>`
and the header lists them separated by spaces, so a receiver holding either secret of a
rotation verifies. The same three headers go out under the `svix-` names too.
"""

import base64
import hashlib
import hmac

from django.views.decorators.debug import sensitive_variables

from .secrets import PREFIX


@sensitive_variables("secret", "key")
def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@sensitive_variables("secrets")
def headers(secrets: list[str], msg_id: str, timestamp: int, body: str) -> dict:
    signed = " ".join(signature(secret, msg_id, timestamp, body) for secret in secrets)
    values = {"id": msg_id, "timestamp": str(timestamp), "signature": signed}
    found = {"Content-Type": "application/json", "User-Agent": "IntegrationPortal-Webhooks/1"}
    for prefix in ("webhook", "svix"):
        for name, value in values.items():
            found[f"{prefix}-{name}"] = value
    return found
