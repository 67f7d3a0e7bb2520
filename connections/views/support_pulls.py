"""Read history (global and per company) and a pull's page with its live progress."""

from django.shortcuts import get_object_or_404, render

from integrations.models import Integration
from portal.web.access import require_perm

from ..models import ACTIVE_PULL_STATUSES, Company, PullOperation, PullStatus
from ..support_forms import PullFilterForm
from .support import window

PER_PAGE = 50


def _history(request, pulls, company=None):
    integrations = list(Integration.objects.all())
    form = PullFilterForm(request.GET or None, integrations=integrations)
    # Find the page's ids on the pulls table alone (walking a time index), then load those rows
    # with their company: joined first, the database would sort the whole history for one page.
    ids = pulls.filter(*form.filters()).order_by("-requested_at", "-id").values_list("pk", flat=True)
    page = window(ids, request, PER_PAGE)
    rows = PullOperation.objects.select_related("connection__company", "connection__integration").in_bulk(page.items)
    page.items = [rows[pk] for pk in page.items]
    ctx = {
        "form": form,
        "page": page,
        "company": company,
        "filtered": bool(form.is_bound and form.filters()),
    }
    return render(request, "connections/pull_list.html", ctx)


@require_perm("connections.view_pulloperation")
def pull_list(request):
    return _history(request, PullOperation.objects.all())


@require_perm("connections.view_pulloperation")
def company_pulls(request, pk):
    company = get_object_or_404(Company, pk=pk)
    connection_ids = list(company.connections.values_list("pk", flat=True))
    return _history(request, PullOperation.objects.filter(connection_id__in=connection_ids), company)


def progress(pull):
    """The progress bar's state: percent (None when unknown), tone, and whether to keep polling."""
    active = pull.status in ACTIVE_PULL_STATUSES
    if pull.status == PullStatus.COMPLETE:
        percent, tone = 100, "done"
    elif not active:
        percent, tone = 100, "failed" if pull.status != PullStatus.CANCELLED else "done"
    elif pull.expected_records:
        # The last complete pull's size is an estimate: never claim 100% before the end.
        percent, tone = min(99, pull.records_fetched * 100 // pull.expected_records), ""
    else:
        percent, tone = None, ""
    return {"pull": pull, "active": active, "percent": percent, "tone": tone}


def _pull_or_404(pk):
    return get_object_or_404(
        PullOperation.objects.select_related("connection__company", "connection__integration", "requested_by"), pk=pk
    )


@require_perm("connections.view_pulloperation")
def pull_detail(request, pk):
    pull = _pull_or_404(pk)
    ctx = {**progress(pull), "pull": pull}
    return render(request, "connections/pull_detail.html", ctx)


@require_perm("connections.view_pulloperation")
def pull_progress(request, pk):
    """The live part of the pull page; htmx polls it every second while the pull is active."""
    return render(request, "connections/_pull_progress.html", progress(_pull_or_404(pk)))
