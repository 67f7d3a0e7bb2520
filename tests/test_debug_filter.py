import sys
import uuid

from django.views.debug import ExceptionReporter
from django.views.decorators.debug import sensitive_variables

SECRET = f"cbsecret-{uuid.uuid4().hex}"  # made at run time, so no source line holds it


@sensitive_variables("api_key")
def _explode(api_key):
    raise ValueError("the provider crashed")


def _report(rf):
    try:
        _explode(SECRET)
    except ValueError:
        exc_info = sys.exc_info()
    return ExceptionReporter(rf.get("/"), *exc_info)


def test_it_hides_sensitive_variables_even_with_debug_on(rf, settings):
    settings.DEBUG = True
    reporter = _report(rf)
    assert SECRET not in reporter.get_traceback_text()
    assert SECRET not in reporter.get_traceback_html()
    assert "the provider crashed" in reporter.get_traceback_text()
