"""Connections URLs, split by room so each part can grow on its own."""

from .urls_companies import urlpatterns as companies
from .urls_link import urlpatterns as link
from .urls_support import urlpatterns as support
from .urls_sync import urlpatterns as sync

app_name = "connections"

urlpatterns = companies + link + support + sync
