"""Companies: the list (search, filters, sort), a company's page, and the admin's create, edit and delete."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from portal.web.access import require_perm
from portal.web.paging import window

from .. import company_sync_settings, lifecycle
from ..filtersets import CompanyFilterSet
from ..forms import CompanyForm
from ..models import Company, Connection, PullOperation
from ..support.panels import connection_cards
from ..webhooks import lines as webhook_lines

PAGE_SIZE = 25
RECENT_PULLS = 10


@require_perm("connections.view_company")
def company_list(request):
    filters = CompanyFilterSet(request.GET, Company.objects.all())
    connections = Connection.objects.select_related("integration").order_by("category", "-created_at")
    companies = filters.qs.prefetch_related(Prefetch("connections", queryset=connections))
    page = window(companies, request, PAGE_SIZE, total=filters.qs.count())
    ctx = {
        "filters": filters,
        "page": page,
        "companies": page.items,
        "total": Company.objects.count(),
    }
    return render(request, "connections/company_list.html", ctx)


@require_perm("connections.view_company")
def company_detail(request, pk):
    company = get_object_or_404(Company, pk=pk)
    connections = sorted(
        company.connections.select_related("integration").order_by("-created_at"),
        key=lambda c: c.status == c.Status.UNLINKED,  # the active connection first, history after
    )
    recent = (
        PullOperation.objects.filter(connection__company=company)
        .select_related("connection__integration")
        .order_by("-requested_at", "-id")[:RECENT_PULLS]
    )
    ctx = {
        "company": company,
        "cards": connection_cards(connections, request, timezone.now()),
        "recent_pulls": list(recent),
        "sync_settings": company_sync_settings.settings_of(company),
        "webhook_lines": webhook_lines.for_company(company.pk),
    }
    return render(request, "connections/company_detail.html", ctx)


@require_perm("connections.add_company")
def company_create(request):
    return _company_form(request, None)


@require_perm("connections.change_company")
def company_edit(request, pk):
    return _company_form(request, get_object_or_404(Company, pk=pk))


def _company_form(request, company):
    """One form for create and edit (the permission decorators differ, the page does not)."""
    before = lifecycle.company_fields(company) if company else {}
    form = CompanyForm(request.POST or None, instance=company)
    if request.method == "POST" and form.is_valid():
        if company is None:
            data = form.cleaned_data
            company = lifecycle.create_company(data["name"], data["description"], request.user, tags=data["tags"])
            messages.success(request, f"Company {company.name} created. Add a connection to get its Link URL.")
        else:
            form.instance.tags = form.cleaned_data["tags"]
            company = lifecycle.save_company_changes(form.instance, before, request.user)
            messages.success(request, f"Company {company.name} saved.")
        return redirect("connections:company-detail", pk=company.pk)
    ctx = {"form": form, "company": company if company and company.pk else None}
    return render(request, "connections/company_form.html", ctx)


@require_perm("connections.delete_company")
def company_delete(request, pk):
    company = get_object_or_404(Company, pk=pk)
    if request.method == "POST":
        summary = lifecycle.delete_company(company, request.user)
        messages.success(
            request,
            f"Company {company.name} deleted, with {summary['connections']} connection(s) "
            f"and {summary['records']} synced record(s).",
        )
        return redirect("connections:company-list")
    ctx = {
        "company": company,
        "summary": lifecycle.company_deletion_summary(company),
        "connections": company.connections.select_related("integration"),
    }
    return render(request, "connections/company_confirm_delete.html", ctx)
