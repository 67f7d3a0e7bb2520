from django.apps import AppConfig


class ApiConfig(AppConfig):
    """API keys and the API's shared plumbing (authentication, errors, paging, query)."""

    name = "portal.api"
    label = "api"
    verbose_name = "REST API"
