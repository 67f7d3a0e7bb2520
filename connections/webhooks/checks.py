"""A deploy check: plain HTTP and local addresses as webhook targets belong to development, not production."""

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def local_targets_check(app_configs, **kwargs):
    """WEBHOOK_ALLOW_LOCAL_TARGETS on with DEBUG off lets an endpoint reach the portal's own network (SSRF)."""
    if settings.WEBHOOK_ALLOW_LOCAL_TARGETS and not settings.DEBUG:
        return [
            Warning(
                "WEBHOOK_ALLOW_LOCAL_TARGETS is on while DEBUG is off: webhook endpoints may use plain HTTP and "
                "loopback, private or link-local addresses, so whoever adds an endpoint can make the portal "
                "POST to services on its own network.",
                hint="Unset WEBHOOK_ALLOW_LOCAL_TARGETS (or set it to false) in production.",
                id="webhooks.W001",
            )
        ]
    return []
