"""The public Link pages: the company's user pastes their API key (no login)."""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.template.loader import select_template
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from portal.web.addresses import client_address

from ..forms import LinkForm
from ..link import Outcome, check_link, submit_credentials

FALLBACK_HELP = "connections/link_help_fallback.html"


@login_not_required
@never_cache
@csrf_protect
@sensitive_post_parameters("api_key")
@sensitive_variables("form")
@require_http_methods(["GET", "POST"])
def link(request, token):
    address = client_address(request)
    # A locked Link URL says so as soon as it is opened, not once a key has been pasted.
    found = check_link(token, address)
    if not found.ok:
        return _problem(request, found)
    connection = found.connection
    provider = connection.integration.provider
    form = LinkForm(request.POST or None, credentials_label=provider.credentials_label)
    result = None
    if request.method == "POST" and form.is_valid():
        result = submit_credentials(token, form.cleaned_data["api_key"], address)
        if result.ok:
            return redirect("connections:link-done", token=token)
        if result.outcome not in (Outcome.REJECTED, Outcome.UNREACHABLE):
            return _problem(request, result)
        # The field is a PasswordInput(render_value=False): what was typed is never sent back.
        form.add_error("api_key", result.message)
    ctx = {
        "connection": connection,
        "company": connection.company,
        "integration": connection.integration,
        "provider": provider,
        "form": form,
        "result": result,
        "help_template": select_template([provider.link_help_template, FALLBACK_HELP]).template.name,
        "integration_settings": connection.integration.effective_settings(),
    }
    return render(request, "connections/link_form.html", ctx)


@login_not_required
@never_cache
def link_done(request, token):
    found = check_link(token, client_address(request))
    if found.ok:  # not submitted yet: back to the form
        return redirect("connections:link", token=token)
    # Only a used token of a connection that is still Linked gets the thank-you page.
    if found.outcome != Outcome.USED or found.connection.status != found.connection.Status.LINKED:
        return _problem(request, found)
    ctx = {"company": found.connection.company, "integration": found.connection.integration}
    return render(request, "connections/link_done.html", ctx)


def _problem(request, result):
    ctx = {"result": result, "connection": result.connection}
    response = render(request, "connections/link_problem.html", ctx, status=result.http_status)
    if result.retry_after is not None:
        response["Retry-After"] = str(result.retry_after)
    return response
