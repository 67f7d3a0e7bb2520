"""The portal's refusal pages (400, 403, CSRF failure, 404, 413), each saying what to do next.

Wired in `portal.urls` (handler400, handler403, handler404) and `CSRF_FAILURE_VIEW`; the
server error page is `templates/500.html`, rendered by Django with no request context.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

PUBLIC_ADVICE = "If you were linking your books, open the Link URL you were sent again."


@dataclass(frozen=True)
class ErrorPage:
    status: int
    title: str
    heading: str
    advice: str
    public_advice: str = PUBLIC_ADVICE


BAD_REQUEST = ErrorPage(
    400,
    "Bad request",
    "We could not read that request",
    "Something in it was malformed. Go back, reload the page and try again.",
)
FORBIDDEN = ErrorPage(
    403,
    "Not allowed",
    "You can't do that here",
    "Your role does not allow this action. Ask an admin if you need it done.",
)
FORM_EXPIRED = ErrorPage(
    403,
    "Form expired",
    "This form has expired",
    "For your safety a form works only with cookies on, and only for a while. "
    "Go back, reload the page and send it again.",
    "Go back, reload the page and send it again. If it keeps happening, allow cookies for this site.",
)
NOT_FOUND = ErrorPage(
    404,
    "Not found",
    "Page not found",
    "There is nothing at this address. It may have been deleted, or the link may be mistyped.",
)


def too_large() -> ErrorPage:
    limit = filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return ErrorPage(
        413,
        "Too large",
        "That was more than the portal accepts",
        f"A form may send at most {limit}. Go back and send less: an API key is only a few dozen characters.",
    )


def show(request, error: ErrorPage):
    signed_in = bool(getattr(request, "user", None) and request.user.is_authenticated)
    return render(request, "errors/error.html", {"error": error, "signed_in": signed_in}, status=error.status)


def bad_request(request, exception=None):
    """400, or 413 when the body was larger than DATA_UPLOAD_MAX_MEMORY_SIZE."""
    return show(request, too_large() if isinstance(exception, RequestDataTooBig) else BAD_REQUEST)


def permission_denied(request, exception=None):
    return show(request, FORBIDDEN)


def page_not_found(request, exception=None):
    return show(request, NOT_FOUND)


def csrf_failure(request, reason=""):
    return show(request, FORM_EXPIRED)
