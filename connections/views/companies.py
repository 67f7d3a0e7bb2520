"""Companies and their connections: list, create, edit, delete, and the admin's connection actions."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from integrations.models import Integration
from portal.web.access import require_perm

from .. import lifecycle
from ..forms import SORTS, CompanyFilterForm, CompanyForm, ConnectionForm
from ..link import can_issue_new_link_url, issue_link_url
from ..models import Company, Connection
from ..status import IllegalStatusMove

PAGE_SIZE = 25


def filtered_companies(form):
    """The companies matching the Companies page filters, sorted, with their connections prefetched."""
    companies = Company.objects.all()
    q = form.value("q").strip()
    if q:
        match = Q(name__icontains=q)
        ident = form.search_id()
        if ident is not None:
            # Support pastes company ids and connection ids alike.
            match |= Q(pk=ident) | Q(Exists(Connection.objects.filter(company=OuterRef("pk"), pk=ident)))
        companies = companies.filter(match)
    if form.value("status"):
        companies = companies.filter(
            Exists(Connection.objects.filter(company=OuterRef("pk"), status=form.value("status")))
        )
    if form.value("integration"):
        companies = companies.filter(
            Exists(Connection.objects.filter(company=OuterRef("pk"), integration__key=form.value("integration")))
        )
    field = SORTS.get(form.value("sort") or "name", SORTS["name"])[0]
    order = F(field.lstrip("-"))
    order = order.desc(nulls_last=True) if field.startswith("-") else order.asc(nulls_last=True)
    connections = Connection.objects.select_related("integration").order_by("category", "-created_at")
    return companies.order_by(order, "name", "pk").prefetch_related(Prefetch("connections", queryset=connections))


@require_perm("connections.view_company")
def company_list(request):
    integrations = list(Integration.objects.all())
    form = CompanyFilterForm(request.GET, integrations=integrations)
    page = Paginator(filtered_companies(form), PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "form": form,
        "page_obj": page,
        "companies": page.object_list,
        "filtered": any(form.value(name) for name in ("q", "status", "integration")),
        "total": Company.objects.count(),
    }
    return render(request, "connections/company_list.html", ctx)


@require_perm("connections.add_company")
def company_create(request):
    return _company_form(request, None)


@require_perm("connections.change_company")
def company_edit(request, pk):
    return _company_form(request, get_object_or_404(Company, pk=pk))


def _company_form(request, company):
    """One form for create and edit (the permission decorators differ, the page does not)."""
    before = {"name": company.name, "description": company.description} if company else {}
    form = CompanyForm(request.POST or None, instance=company)
    if request.method == "POST" and form.is_valid():
        if company is None:
            data = form.cleaned_data
            company = lifecycle.create_company(data["name"], data["description"], request.user)
            messages.success(request, f"Company {company.name} created. Add a connection to get its Link URL.")
        else:
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


@require_perm("connections.add_connection")
def connection_create(request, pk):
    company = get_object_or_404(Company, pk=pk)
    form = ConnectionForm(request.POST or None, company=company)
    if request.method == "POST" and form.is_valid():
        try:
            connection = lifecycle.create_connection(company, form.cleaned_data["integration"], request.user)
        except lifecycle.ConnectionRefused as refused:
            form.add_error("integration", str(refused))
        else:
            messages.success(
                request,
                f"Connection to {connection.integration.name} added. Send the company its Link URL "
                "so they can enter their API key.",
            )
            return redirect("connections:company-detail", pk=company.pk)
    ctx = {"form": form, "company": company, "has_choices": form.fields["integration"].queryset.exists()}
    return render(request, "connections/connection_form.html", ctx)


@require_POST
@require_perm("connections.manage_connection")
def connection_unlink(request, pk):
    connection = get_object_or_404(Connection.objects.select_related("company", "integration"), pk=pk)
    try:
        lifecycle.unlink_connection(connection, request.user)
    except IllegalStatusMove:
        messages.error(request, f"Only a Linked connection can be unlinked; this one is {connection.status}.")
    else:
        messages.success(
            request, f"{connection} unlinked: its API key was forgotten and its schedules stopped. Synced data is kept."
        )
    return redirect("connections:company-detail", pk=connection.company_id)


@require_perm("connections.manage_connection")
def connection_delete(request, pk):
    connection = get_object_or_404(Connection.objects.select_related("company", "integration"), pk=pk)
    if request.method == "POST":
        summary = lifecycle.delete_connection(connection, request.user)
        messages.success(request, f"{connection} deleted, with {summary['records']} synced record(s).")
        return redirect("connections:company-detail", pk=connection.company_id)
    ctx = {"connection": connection, "summary": lifecycle.connection_deletion_summary(connection)}
    return render(request, "connections/connection_confirm_delete.html", ctx)


@require_POST
@require_perm("connections.manage_connection")
def connection_new_link_url(request, pk):
    connection = get_object_or_404(Connection.objects.select_related("company", "integration"), pk=pk)
    reason = connection.integration.refuse_new_links_reason()
    if reason:
        messages.error(request, reason)
    elif not can_issue_new_link_url(connection):
        messages.error(
            request,
            f"This connection is {connection.status} and its Link URL still works, so no new one was issued.",
        )
    else:
        issue_link_url(connection, request.user)
        messages.success(request, "New Link URL issued; the old one no longer works. Send this one to the company.")
    return redirect("connections:company-detail", pk=connection.company_id)
