from django.urls import path

from . import views_companies as companies
from . import views_data as data

COMPANY = "companies/<uuid:company_id>"
CONNECTION = COMPANY + "/connections/<uuid:connection_id>"

urlpatterns = [
    path("companies", companies.CompanyList.as_view(), name="company-list"),
    path(COMPANY, companies.CompanyDetail.as_view(), name="company-detail"),
    path(COMPANY + "/connections", companies.ConnectionList.as_view(), name="connection-list"),
    path(CONNECTION, companies.ConnectionDetail.as_view(), name="connection-detail"),
    path(CONNECTION + "/authorization", companies.ConnectionAuthorization.as_view(), name="connection-authorization"),
    path(CONNECTION + "/data/<str:data_type>", data.RecordList.as_view(), name="record-list"),
    path(COMPANY + "/data/all", data.RefreshAll.as_view(), name="refresh-all"),
    path(COMPANY + "/data/queue/<str:data_type>", data.RefreshDataType.as_view(), name="refresh-data-type"),
    path(COMPANY + "/dataStatus", data.DataStatusView.as_view(), name="data-status"),
    path(COMPANY + "/data/history", data.PullList.as_view(), name="pull-list"),
    path(COMPANY + "/data/history/<uuid:dataset_id>", data.PullDetail.as_view(), name="pull-detail"),
    path(COMPANY + "/syncSettings", data.CompanySyncSettings.as_view(), name="company-sync-settings"),
]
