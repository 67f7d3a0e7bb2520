from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def credential_keys_check(app_configs, **kwargs):
    """Production must bring its own Fernet keys, not the SECRET_KEY-derived fallback."""
    if settings.CREDENTIAL_KEYS_DERIVED:
        return [
            Warning(
                "CREDENTIAL_KEYS is not set: API keys are encrypted with a key derived from SECRET_KEY.",
                hint="Generate one with `python manage.py generate_credential_key` and set CREDENTIAL_KEYS.",
                id="portal.W001",
            )
        ]
    return []
