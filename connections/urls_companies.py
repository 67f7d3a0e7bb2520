from django.urls import path

from .views import companies

urlpatterns = [
    path("companies/", companies.company_list, name="company-list"),
    path("companies/new/", companies.company_create, name="company-create"),
    path("companies/<uuid:pk>/edit/", companies.company_edit, name="company-edit"),
    path("companies/<uuid:pk>/delete/", companies.company_delete, name="company-delete"),
    path("companies/<uuid:pk>/connections/new/", companies.connection_create, name="connection-create"),
    path("connections/<uuid:pk>/unlink/", companies.connection_unlink, name="connection-unlink"),
    path("connections/<uuid:pk>/delete/", companies.connection_delete, name="connection-delete"),
    path("connections/<uuid:pk>/new-link-url/", companies.connection_new_link_url, name="connection-new-link-url"),
]
