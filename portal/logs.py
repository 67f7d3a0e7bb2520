"""Log filters for the portal's handlers."""

import logging


class OneLineRefusals(logging.Filter):
    """A refused request (a 4xx: 403, 404, CSRF failure, a body too large) is logged as one
    line: Django attaches the exception, whose traceback says nothing an operator needs.
    Server errors (5xx) keep theirs."""

    def filter(self, record):
        status = getattr(record, "status_code", None)
        refused = status is not None and 400 <= status < 500
        if refused or record.name.startswith("django.security."):
            record.exc_info, record.exc_text = None, None
        return True
