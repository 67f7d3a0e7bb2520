"""A company's Sync settings page: Admins give data types settings of the company's own, or
return them to the portal's; everyone with a role reads them on the company's page."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from portal.web.access import require_perm

from .. import company_sync_settings
from ..forms import CompanySyncSettingFormSet
from ..models import Company


@require_perm("connections.change_company")
def company_sync_settings_edit(request, pk):
    company = get_object_or_404(Company, pk=pk)
    formset = CompanySyncSettingFormSet(request.POST or None, settings=company_sync_settings.settings_of(company))
    if request.method == "POST" and formset.is_valid():
        event = company_sync_settings.replace_settings(company, formset.wanted(), user=request.user)
        if event is None:
            messages.info(request, "Nothing changed.")
        else:
            messages.success(request, f"Sync settings of {company.name} saved.")
        return redirect("connections:company-detail", pk=company.pk)
    ctx = {"company": company, "formset": formset}
    return render(request, "connections/company_sync_settings.html", ctx)
