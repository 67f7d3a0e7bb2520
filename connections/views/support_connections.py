"""The connection page (diagnosis, health, credentials, timeline) and its safe actions: test and note."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from integrations.registry import CredentialStatus
from portal.web.access import require_perm

from .. import timeline
from ..models import ACTIVE_PULL_STATUSES
from ..notes import NoteForm, add_note
from ..recheck import NothingToTest, recheck_credentials
from ..support import health
from .support import connection_or_404
from .support_companies import connection_cards


def credentials_facts(connection, user, now):
    """What the page may say about the stored credentials: a fingerprint only for those who manage them."""
    if not connection.has_credentials:
        return None
    return {
        "shown": connection.credentials_fingerprint if user.has_perm("connections.manage_connection") else "set",
        "set_at": connection.credentials_set_at,
        "age": timesince(connection.credentials_set_at, now) if connection.credentials_set_at else "",
        "validated_at": connection.credentials_validated_at,
        "validated_by": connection.credentials_validated_by,
    }


def render_connection_page(request, connection, note_form=None):
    now = timezone.now()
    card = connection_cards([connection], request, now)[0]
    active = list(connection.pulls.filter(status__in=ACTIVE_PULL_STATUSES).order_by("requested_at"))
    stuck = [p for p in active if health.is_stuck(p, now)]
    limit = timeline.clean_limit(request.GET.get("timeline"))
    entries, has_more = timeline.timeline(connection, limit)
    ctx = {
        "connection": connection,
        "card": card,
        "diagnoses": health.diagnose(connection, card["health"], stuck, now),
        "active_pulls": active,
        "credentials": credentials_facts(connection, request.user, now),
        "timeline": entries,
        "timeline_more": timeline.next_limit(limit) if has_more else None,
        "note_form": note_form or NoteForm(connection=connection),
    }
    return render(request, "connections/connection_detail.html", ctx)


@require_perm("connections.view_connection")
def connection_detail(request, pk):
    return render_connection_page(request, connection_or_404(pk))


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
        return render_connection_page(request, connection, note_form=form)
    add_note(connection, request.user, form.cleaned_data["text"])
    messages.success(request, "Note added to the timeline.")
    return redirect("connections:connection-detail", pk=connection.pk)
