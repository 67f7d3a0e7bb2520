from django.apps import AppConfig


class WebConfig(AppConfig):
    """Installed only so Django finds the shared template tags."""

    name = "portal.web"
    label = "web"
    verbose_name = "Shared web helpers"
