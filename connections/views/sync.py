"""Sync room: the safe actions on pulls (refresh data, cancel a pull). Views only queue or
cancel; the pulls themselves run on the workers."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.web.access import require_perm

from ..models import Connection, PullOperation
from ..sync.outcomes import cancel_pull
from ..sync.queueing import queue_refresh, refresh_refusal


def _back(request, connection_id):
    """Where a POST returns: `next` or the referring page when they are ours, else the connection."""
    for target in (request.POST.get("next"), request.META.get("HTTP_REFERER")):
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
    return reverse("connections:connection-detail", args=[connection_id])


@require_perm("connections.refresh_data")
@require_POST
def connection_refresh(request, pk):
    connection = get_object_or_404(Connection.objects.select_related("integration"), pk=pk)
    provider = connection.integration.provider
    data_type = request.POST.get("data_type", "").strip()
    back = _back(request, connection.pk)
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


@require_perm("connections.cancel_pull")
@require_POST
def pull_cancel(request, pk):
    pull = get_object_or_404(PullOperation, pk=pk)
    if cancel_pull(pull, user=request.user):
        messages.success(request, f"Pull {pull.pk} ({pull.data_type}) cancelled. Records already saved are kept.")
    else:
        messages.info(request, f"Pull {pull.pk} had already ended ({pull.status}), so there was nothing to cancel.")
    return redirect(_back(request, pull.connection_id))
