"""The API keys page: Admins create (the key is shown once), name and revoke keys; Support reads."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.web.access import require_perm

from . import keys
from .models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=50,
        help_text="What uses this key (e.g. “billing service”): audit events and timelines name it.",
        error_messages={"required": "Give the key a name.", "max_length": "A name can be at most 50 characters."},
    )


@never_cache
@require_perm("api.view_apikey")
def apikey_list(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST":
        if not request.user.has_perm("api.add_apikey"):
            raise PermissionDenied
        if form.is_valid():
            try:
                row, new_key = keys.create_key(form.cleaned_data["name"], user=request.user)
            except keys.TooManyKeys as full:
                form.add_error(None, str(full))
            else:
                form = ApiKeyForm()
                new_key = {"row": row, "key": new_key}
    ctx = {
        "form": form,
        "new_key": new_key,
        "active": ApiKey.objects.filter(revoked_at__isnull=True).order_by("-created_at"),
        "revoked": ApiKey.objects.filter(revoked_at__isnull=False).order_by("-revoked_at")[:20],
        "can_change": request.user.has_perm("api.add_apikey"),
    }
    return render(request, "api/apikey_list.html", ctx)


@require_POST
@require_perm("api.delete_apikey")
def apikey_revoke(request, pk):
    row = get_object_or_404(ApiKey, pk=pk)
    if keys.revoke_key(row, user=request.user):
        messages.success(request, f"API key {row.name or row.prefix} revoked: it no longer works.")
    else:
        messages.info(request, f"API key {row.name or row.prefix} was already revoked.")
    return redirect("api-keys:apikey-list")
