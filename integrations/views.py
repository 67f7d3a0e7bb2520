"""The Integrations pages: the catalogue with its on/off switches, an integration's Manage page, and Activity."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.web.access import require_perm
from portal.web.paging import window
from portal.web.redirects import safe_next

from . import queries, services
from .forms import ActivityFilterForm, IntegrationSearchForm, NoSettingsForm, sync_formset
from .models import AuditEvent, Integration

CHANGE_PERM = "integrations.change_integration"
HISTORY_ON_MANAGE_PAGE = 5  # the latest; the Activity page, filtered to the integration, has the rest
EVENTS_PER_PAGE = 50


@require_perm("integrations.view_integration")
def integration_list(request):
    search = IntegrationSearchForm(request.GET)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    sections = queries.catalogue_sections(query)
    ctx = {
        "search": search,
        "query": query,
        "sections": sections,
        "match_count": sum(len(s["rows"]) for s in sections),
        "can_change": request.user.has_perm(CHANGE_PERM),
    }
    return render(request, "integrations/integration_list.html", ctx)


@require_perm(CHANGE_PERM)
@require_POST
def integration_toggle(request, key):
    integration = get_object_or_404(Integration, key=key)
    choice = request.POST.get("enabled")
    back = safe_next(request, reverse("integrations:integration-list"))
    if choice not in ("on", "off"):
        messages.error(request, "Choose whether to switch the integration on or off.")
        return redirect(back)
    enabled = choice == "on"
    linked = queries.linked_count(integration)
    if not enabled and integration.enabled and linked and request.POST.get("confirmed") != "yes":
        ctx = {"integration": integration, "linked": linked, "next": back}
        return render(request, "integrations/integration_toggle_confirm.html", ctx)
    if services.set_enabled(integration, enabled, request.user):
        messages.success(request, _toggle_message(integration, linked))
    else:
        messages.info(request, f"{integration.name} was already switched {choice}.")
    return redirect(back)


@require_perm("integrations.view_integration")
def integration_manage(request, key):
    integration = get_object_or_404(queries.with_connection_counts(Integration.objects.all()), key=key)
    provider = integration.provider
    data = None
    if request.method == "POST":
        if not request.user.has_perm(CHANGE_PERM):
            raise PermissionDenied
        data = request.POST
    settings_form = _settings_form(integration, data)
    formset = sync_formset(integration, data)
    if data is not None:
        settings_ok, sync_ok = settings_form.is_valid(), formset.is_valid()  # both: every error shown at once
        if settings_ok and sync_ok:
            events = services.save_settings(integration, settings_form, formset, request.user)
            messages.success(request, "Settings saved." if events else "Nothing changed, so nothing was saved.")
            return redirect("integrations:integration-manage", key=integration.key)
        messages.error(request, "Nothing was saved: please correct the fields marked below.")
    ctx = {
        "integration": integration,
        "provider": provider,
        "settings_form": settings_form,
        "sync_formset": formset,
        "sync_rows": [(form, provider.data_type(form.instance.data_type)) for form in formset.forms],
        "overrides": _overrides(settings_form),
        "integration_settings": integration.effective_settings(),
        "history": list(integration.audit_events.select_related("actor")[:HISTORY_ON_MANAGE_PAGE]),
        "history_count": integration.audit_events.count(),
        "can_change": request.user.has_perm(CHANGE_PERM),
    }
    return render(request, "integrations/integration_manage.html", ctx)


@require_perm("integrations.view_auditevent")
def activity(request):
    filters = ActivityFilterForm(request.GET or None)
    events = filters.filter(AuditEvent.objects.select_related("integration", "actor"))
    page = window(events, request, EVENTS_PER_PAGE, total=events.count())
    filtered = filters.is_valid() and any(filters.cleaned_data.values())
    ctx = {"filters": filters, "filtered": filtered, "page": page, "events": page.items}
    return render(request, "integrations/activity.html", ctx)


def _settings_form(integration, data):
    form_class = integration.provider.settings_form or NoSettingsForm
    return form_class(data, initial=integration.effective_settings(), prefix="settings")


def _overrides(settings_form):
    """[(label, value)] of settings the deployment's environment sets, whatever is saved."""
    overrides = getattr(settings_form, "overrides", {})
    return [(settings_form.fields[name].label, value) for name, value in overrides.items()]


def _toggle_message(integration, linked):
    if integration.enabled:
        return f"{integration.name} is switched on: new links are accepted and schedules run again."
    if not linked:
        return f"{integration.name} is switched off: new links are refused."
    return (
        f"{integration.name} is switched off: new links are refused and scheduled syncs are paused for its "
        f"{linked} linked connection{pluralize(linked)}, which stay{pluralize(linked, 's,')} Linked."
    )
