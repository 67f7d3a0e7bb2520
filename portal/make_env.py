"""Print a local .env with fresh secrets (used once by `make run` / `make dev`)."""

import secrets

from cryptography.fernet import Fernet

print(
    "\n".join(
        [
            "# Written by `make run` for this machine; see .env.example for every variable.",
            f"SECRET_KEY={secrets.token_urlsafe(50)}",
            "DEBUG=false",
            "HTTPS=false",
            "ALLOWED_HOSTS=localhost,127.0.0.1",
            f"CREDENTIAL_KEYS={Fernet.generate_key().decode()}",
            "PORTAL_BASE_URL=http://127.0.0.1:8000",
            "CLEARBOOKS_WSDL_URL=http://127.0.0.1:8001/api/accounting/wsdl/",
            "# A receiver on this machine may take webhooks over plain HTTP (never in production).",
            "WEBHOOK_ALLOW_LOCAL_TARGETS=true",
        ]
    )
)
