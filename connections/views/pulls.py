"""Read history (global and per company), a pull's page with its live progress, and cancelling a pull."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal.web.access import require_perm
from portal.web.paging import window

from ..filtersets import PullFilterSet
from ..models import Company, PullOperation
from ..support.panels import pull_progress
from ..sync.outcomes import cancel_pull
from .connections import back_to_connection

PER_PAGE = 50


@require_perm("connections.view_pulloperation")
def pull_list(request):
    return _history(request, PullOperation.objects.all())


@require_perm("connections.view_pulloperation")
def company_pulls(request, pk):
    company = get_object_or_404(Company, pk=pk)
    connection_ids = list(company.connections.values_list("pk", flat=True))
    return _history(request, PullOperation.objects.filter(connection_id__in=connection_ids), company)


def _history(request, pulls, company=None):
    filters = PullFilterSet(request.GET, pulls)
    # Find the page's ids on the pulls table alone (walking a time index), then load those rows
    # with their company: joined first, the database would sort the whole history for one page.
    page = window(filters.qs.values_list("pk", flat=True), request, PER_PAGE)
    rows = PullOperation.objects.select_related("connection__company", "connection__integration").in_bulk(page.items)
    page.items = [rows[pk] for pk in page.items]
    ctx = {"filters": filters, "page": page, "company": company}
    return render(request, "connections/pull_list.html", ctx)


def _pull_or_404(pk):
    return get_object_or_404(
        PullOperation.objects.select_related("connection__company", "connection__integration", "requested_by"), pk=pk
    )


@require_perm("connections.view_pulloperation")
def pull_detail(request, pk):
    return render(request, "connections/pull_detail.html", pull_progress(_pull_or_404(pk)))


@require_perm("connections.view_pulloperation")
def pull_progress_part(request, pk):
    """The live part of the pull page; htmx polls it every second while the pull is active."""
    return render(request, "connections/_pull_progress.html", pull_progress(_pull_or_404(pk)))


@require_perm("connections.cancel_pull")
@require_POST
def pull_cancel(request, pk):
    pull = get_object_or_404(PullOperation, pk=pk)
    if cancel_pull(pull, user=request.user):
        messages.success(request, f"Pull {pull.pk} ({pull.data_type}) cancelled. Records already saved are kept.")
    else:
        messages.info(request, f"Pull {pull.pk} had already ended ({pull.status}), so there was nothing to cancel.")
    return redirect(back_to_connection(request, pull.connection_id))
