"""The dashboard after login: connections by status, the last 24 hours of pulls, and what needs attention."""

from django.shortcuts import render

from portal.web.access import require_perm

from ..support.dashboard import dashboard as figures


@require_perm("connections.view_connection")
def dashboard(request):
    return render(request, "connections/dashboard.html", figures())
