"""Login throttling: what a locked-out visitor reads (django-axes' AXES_LOCKOUT_CALLABLE).

django-axes counts failed logins per username and per client address (settings: AXES_*).
Once either is locked, every further try, right or wrong, is refused and starts the wait
again, so the page can say exactly when to come back: the lock's length from now.
"""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils import timezone


def locked_out(request, response=None, credentials=None):
    """The login page again, with the lock explained in plain words; 429 with Retry-After."""
    cool_off = settings.AXES_COOLOFF_TIME
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    ctx = {
        # A fresh form: the password typed is never sent back; the username is the visitor's own.
        "form": AuthenticationForm(request, initial={"username": username[:150]}),
        "next": request.POST.get("next", request.GET.get("next", "")),
        "locked_until": timezone.now() + cool_off,
        "locked_minutes": int(cool_off.total_seconds() // 60),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    page = render(request, "registration/login.html", ctx, status=429)
    page["Retry-After"] = str(int(cool_off.total_seconds()))
    return page
