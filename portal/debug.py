"""Exception reports that hide secrets even with DEBUG on.

Django's SafeExceptionReporterFilter only cleanses reports when DEBUG is off; a
developer's DEBUG page would then show an API key held in a local variable marked
with @sensitive_variables. This filter cleanses always.
"""

from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request):
        return True
