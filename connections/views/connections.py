"""A connection: its page (diagnosis, health, credentials, timeline), the safe actions support may take
(test, note, refresh) and the admin's (add, unlink, delete, issue a new Link URL)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from integrations.registry import CredentialStatus
from portal.web.access import require_perm
from portal.web.redirects import safe_next

from .. import lifecycle, timeline
from ..forms import ConnectionForm
from ..link_urls import can_issue_new_link_url, issue_link_url
from ..models import ACTIVE_PULL_STATUSES, Company, Connection
from ..notes import NoteForm, add_note
from ..recheck import NothingToTest, recheck_credentials
from ..status import IllegalStatusMove
from ..support import health
from ..support.diagnosis import diagnose
from ..support.panels import connection_cards, credentials_facts
from ..sync.queueing import queue_refresh, refresh_refusal
from ..webhooks import lines as webhook_lines


def connection_or_404(pk):
    return get_object_or_404(Connection.objects.select_related("company", "integration"), pk=pk)


def back_to_connection(request, connection_id):
    """Where a safe action returns: the page it was asked from when ours, else the connection."""
    return safe_next(request, reverse("connections:connection-detail", args=[connection_id]), referer=True)


@require_perm("connections.view_connection")
def connection_detail(request, pk):
    return _connection_page(request, connection_or_404(pk))


def _connection_page(request, connection, note_form=None):
    now = timezone.now()
    card = connection_cards([connection], request, now)[0]
    active = list(connection.pulls.filter(status__in=ACTIVE_PULL_STATUSES).order_by("requested_at"))
    stuck = [p for p in active if health.is_stuck(p, now)]
    limit = timeline.clean_limit(request.GET.get("timeline"))
    story = timeline.timeline(connection, limit, request.GET.get("events", ""))
    ctx = {
        "connection": connection,
        "card": card,
        "diagnoses": diagnose(connection, card["health"], stuck, now),
        "active_pulls": active,
        "credentials": credentials_facts(connection, request.user, now),
        "timeline": story,
        "webhook_lines": webhook_lines.pending_for_connection(connection.pk),  # the others are in the timeline
        "note_form": note_form or NoteForm(connection=connection),
    }
    return render(request, "connections/connection_detail.html", ctx)


@require_POST
@require_perm("connections.test_connection")
def connection_test(request, pk):
    connection = connection_or_404(pk)
    try:
        check = recheck_credentials(connection, request.user)
    except NothingToTest as nothing:
        messages.error(request, str(nothing))
        return redirect("connections:connection-detail", pk=connection.pk)
    name = connection.integration.name
    if check.status == CredentialStatus.VALID:
        messages.success(request, f"{name} accepted the stored credentials.")
    elif check.status == CredentialStatus.REJECTED:
        messages.error(request, f"{name} rejected the stored credentials; the connection is now {connection.status}.")
    else:
        messages.warning(request, f"Could not reach {name}, so nothing was changed. Try again in a minute.")
    return redirect("connections:connection-detail", pk=connection.pk)


@require_POST
@require_perm("connections.add_note")
def connection_note(request, pk):
    connection = connection_or_404(pk)
    form = NoteForm(request.POST, connection=connection)
    if not form.is_valid():
        return _connection_page(request, connection, note_form=form)
    add_note(connection, request.user, form.cleaned_data["text"])
    messages.success(request, "Note added to the timeline.")
    return redirect("connections:connection-detail", pk=connection.pk)


@require_perm("connections.refresh_data")
@require_POST
def connection_refresh(request, pk):
    """Queue a refresh of one data type, or all; the pulls themselves run on the workers."""
    connection = get_object_or_404(Connection.objects.select_related("integration"), pk=pk)
    provider = connection.integration.provider
    data_type = request.POST.get("data_type", "").strip()
    back = back_to_connection(request, connection.pk)
    if data_type and provider.data_type(data_type) is None:
        messages.error(request, f"{provider.name} has no data type called “{data_type}”, so nothing was queued.")
        return redirect(back)
    refusal = refresh_refusal(connection)
    if refusal:
        messages.error(request, refusal)
        return redirect(back)
    queued, already = queue_refresh(connection, [data_type] if data_type else [], user=request.user)
    if queued:
        names = ", ".join(p.data_type for p in queued)
        messages.success(request, f"Refresh queued for {names}. Progress shows in the read history.")
    if already:
        names = ", ".join(p.data_type for p in already)
        messages.info(request, f"Already queued or running, so not queued again: {names}.")
    return redirect(back)


#
# The admin's actions
#


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
    connection = connection_or_404(pk)
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
    connection = connection_or_404(pk)
    if request.method == "POST":
        summary = lifecycle.delete_connection(connection, request.user)
        messages.success(request, f"{connection} deleted, with {summary['records']} synced record(s).")
        return redirect("connections:company-detail", pk=connection.company_id)
    ctx = {"connection": connection, "summary": lifecycle.connection_deletion_summary(connection)}
    return render(request, "connections/connection_confirm_delete.html", ctx)


@require_POST
@require_perm("connections.manage_connection")
def connection_new_link_url(request, pk):
    connection = connection_or_404(pk)
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
