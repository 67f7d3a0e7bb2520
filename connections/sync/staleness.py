"""The rule for `DataStatus.scheduled` and `stale_after`, as values the database computes.

`scheduled` says the schedule runs for the row: its connection is Linked and its integration
is on (the dashboard lists failing data types among these, from one index).

Data is stale when no pull succeeded within twice its data type's interval, counted from
the last success or, before the first one, from the link time. That only applies while
the schedule runs for it: the connection is Linked, its integration is on and the data
type's frequency is not "none"; otherwise `stale_after` is null. Stored, the dashboard
finds stale data by one index range (`stale_after < now`) that holds only scheduled rows,
instead of reading every old data status, including those of Deauthorized and Unlinked
connections that nothing refreshes.

This module only computes; `data_status` stores, in the UPDATE that changes the inputs'
row or right after another input changed (a status move, the integration switched, its
frequencies saved). The values are SQL expressions over the rows as they are when the
UPDATE runs, so a concurrent change to another input is read, not overwritten with a
stale copy.
"""

from datetime import timedelta

from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from integrations.registry import FREQUENCY_SECONDS

from ..models import Connection

# Data is stale when no pull succeeded within this many of its intervals.
STALE_FACTOR = 2


def values(last_success=None) -> dict:
    """`scheduled` and `stale_after` of the data status rows an UPDATE writes.

    `last_success`: the time of the success that UPDATE saves (stale from there);
    without it, from each row's own last success, or its connection's link time.
    """
    return {"scheduled": scheduled(), "stale_after": stale_after(last_success)}


def _runs():
    """The row's connection, when the schedule runs for it: Linked, its integration on."""
    return Connection.objects.filter(pk=OuterRef("connection_id"), status=Connection.Status.LINKED).filter(
        integration__enabled=True
    )


def scheduled():
    return Exists(_runs())


def stale_after(last_success=None):
    """The row's stale time: one subquery reads the frequency of its data type where the schedule runs."""
    deadlines = [
        When(integration__sync_settings__frequency=str(frequency), then=_deadline(last_success, seconds))
        for frequency, seconds in FREQUENCY_SECONDS.items()
        if seconds  # frequency "none": refreshed by hand only, never stale
    ]
    # No setting for the data type, frequency "none", or not scheduled: no row, so null.
    setting = _runs().filter(integration__sync_settings__data_type=OuterRef("data_type"))
    deadline = Case(*deadlines, default=None, output_field=DateTimeField())
    return Subquery(setting.annotate(deadline=deadline).values("deadline")[:1], output_field=DateTimeField())


def _deadline(last_success, seconds):
    span = timedelta(seconds=STALE_FACTOR * seconds)
    if last_success is not None:
        return Value(last_success + span, output_field=DateTimeField())
    reference = Coalesce(OuterRef("last_successful_sync_at"), F("linked_at"), output_field=DateTimeField())
    return reference + Value(span)
