from django.shortcuts import render

from portal.access import require_perm


@require_perm("integrations.view_integration")
def integration_list(request):
    return render(request, "integrations/integration_list.html", {})
