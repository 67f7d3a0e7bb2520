"""The Webhooks pages: Admins create and change endpoints (a secret is shown once); Support reads the log."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.web.access import require_perm
from portal.web.paging import window

from . import endpoints, log
from .forms import EndpointForm, LogFilterForm, ReplayForm
from .models import Endpoint, Event, Message

MANAGE = "webhooks.manage_endpoint"
VIEW = "webhooks.view_endpoint"


@never_cache
@require_perm(VIEW)
def endpoint_list(request):
    form = EndpointForm(request.POST or None)
    shown = None  # {"endpoint", "secret"}: only in the answer to the creating POST
    if request.method == "POST":
        if not request.user.has_perm(MANAGE):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                endpoint, secret = endpoints.create(
                    data["url"], data["event_types"], form.tags(), description=data["description"], actor=request.user
                )
            except endpoints.EndpointRefused as refused:
                for field, text in refused.errors.items():
                    form.add_error({"url": "url", "eventTypes": "event_types"}.get(field, "company_tags"), text)
            else:
                shown, form = {"endpoint": endpoint, "secret": secret}, EndpointForm()
    ctx = {
        "form": form,
        "shown": shown,
        "endpoints": Endpoint.objects.all(),
        "can_change": request.user.has_perm(MANAGE),
    }
    return render(request, "webhooks/endpoint_list.html", ctx)


@never_cache
@require_perm(VIEW)
def endpoint_detail(request, pk, shown_secret=None):
    endpoint = get_object_or_404(Endpoint, pk=pk)
    filters = LogFilterForm(request.GET or None)
    found = log.Filters()
    if filters.is_valid():
        data = filters.cleaned_data
        found = log.Filters(data["eventType"], data["status"], str(data["companyId"] or ""))
    ctx = {
        "endpoint": endpoint,
        "filters": filters,
        "page": window(log.messages(endpoint, found), request, 25),
        "replay_form": ReplayForm(),
        "shown_secret": shown_secret,
        "can_change": request.user.has_perm(MANAGE),
    }
    return render(request, "webhooks/endpoint_detail.html", ctx)


@never_cache
@require_perm(VIEW)
def event_detail(request, pk):
    event = get_object_or_404(Event, pk=pk)
    ctx = {"event": event, "deliveries": event.messages.select_related("endpoint").prefetch_related("attempt_log")}
    return render(request, "webhooks/event_detail.html", ctx)


@require_POST
@require_perm(MANAGE)
def endpoint_toggle(request, pk):
    endpoint = get_object_or_404(Endpoint, pk=pk)
    endpoints.set_disabled(endpoint, not endpoint.disabled, actor=request.user)
    messages.success(request, f"{endpoint.url} is {'disabled' if endpoint.disabled else 'enabled'}.")
    return redirect("webhooks:endpoint-detail", pk=pk)


@never_cache
@require_POST
@require_perm(MANAGE)
def endpoint_rotate(request, pk):
    """Answers with the page itself: the new secret is in this answer only."""
    endpoint = get_object_or_404(Endpoint, pk=pk)
    secret = endpoints.rotate_secret(endpoint, actor=request.user)
    return endpoint_detail(request, pk, shown_secret=secret)


@require_POST
@require_perm(MANAGE)
def endpoint_test(request, pk):
    endpoint = get_object_or_404(Endpoint, pk=pk)
    if endpoint.disabled:
        messages.error(request, "The endpoint is disabled: enable it before sending a test event.")
    else:
        endpoints.send_test(endpoint)
        messages.success(request, "Test event queued: its delivery appears in the log below.")
    return redirect("webhooks:endpoint-detail", pk=pk)


@require_perm(MANAGE)
def endpoint_delete(request, pk):
    """GET asks first (what goes with it); POST deletes."""
    endpoint = get_object_or_404(Endpoint, pk=pk)
    if request.method != "POST":
        ctx = {"endpoint": endpoint, "message_count": endpoint.messages.count()}
        return render(request, "webhooks/endpoint_confirm_delete.html", ctx)
    endpoints.delete(endpoint, actor=request.user)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("webhooks:endpoint-list")


@require_POST
@require_perm(MANAGE)
def endpoint_replay(request, pk):
    endpoint = get_object_or_404(Endpoint, pk=pk)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("webhooks:endpoint-detail", pk=pk)
    try:
        count = endpoints.replay_failed_since(endpoint, form.cleaned_data["since"])
    except endpoints.ReplayRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{count} failed message{'s' if count != 1 else ''} queued again.")
    return redirect("webhooks:endpoint-detail", pk=pk)


@require_POST
@require_perm(MANAGE)
def message_replay(request, pk):
    message = get_object_or_404(Message.objects.select_related("endpoint"), pk=pk)
    try:
        endpoints.replay_one(message)
    except endpoints.ReplayRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "The message is queued again, as recorded.")
    return redirect("webhooks:endpoint-detail", pk=message.endpoint_id)
