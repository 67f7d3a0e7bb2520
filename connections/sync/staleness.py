"""The rule for `DataStatus.scheduled` and `stale_after`, as values the database computes.

`scheduled` says the schedule runs for the row: its connection is Linked and its integration
is on (the dashboard lists failing data types among these, from one index).

Data is stale when no pull succeeded within twice its data type's interval, counted from
the last success or, before the first one, from the link time. That only applies while
the schedule runs for it: the connection is Linked, its integration is on and the data
type's frequency in force (the company's own, else the portal's) is not "none"; otherwise
`stale_after` is null. Stored, the dashboard
finds stale data by one index range (`stale_after < now`) that holds only scheduled rows,
instead of reading every old data status, including those of Deauthorized and Unlinked
connections that nothing refreshes.

This module only computes; `data_status` stores, in the UPDATE that changes the row's
own inputs or right after another input changed (a status move, the integration
switched, its frequencies saved, a company's own saved). The values are SQL expressions over the rows as they
are when the UPDATE runs, so a concurrent change to another input is read, not
overwritten with a stale copy.
"""

from datetime import timedelta

from django.db import connections
from django.db.models import BooleanField, Case, CharField, DateTimeField, Exists, F, OuterRef, Subquery, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from integrations.models import Integration, SyncSetting
from integrations.registry import FREQUENCY_SECONDS

from ..models import CompanySyncSetting, Connection

# Data is stale when no pull succeeded within this many of its intervals.
STALE_FACTOR = 2
LINKED = Connection.Status.LINKED
# Frequency "none" is refreshed by hand only: never stale.
INTERVALS = {str(frequency): seconds for frequency, seconds in FREQUENCY_SECONDS.items() if seconds}


def values() -> dict:
    """`scheduled` and `stale_after` of the data status rows an UPDATE writes, from each row's inputs."""
    return {"scheduled": Exists(_runs()), "stale_after": _stale_after()}


def _runs():
    """The row's connection, when the schedule runs for it: Linked, its integration on."""
    return Connection.objects.filter(pk=OuterRef("connection_id"), status=LINKED, integration__enabled=True)


def _stale_after():
    """The row's last success (else its link time) plus twice its frequency's interval, read
    by one subquery where the schedule runs; null without a setting or an interval."""
    since = Coalesce(OuterRef("last_successful_sync_at"), F("linked_at"), output_field=DateTimeField())
    deadline = Case(
        *(When(frequency_in_force=frequency, then=since + _span(seconds)) for frequency, seconds in INTERVALS.items()),
        default=None,
        output_field=DateTimeField(),
    )
    setting = _runs().filter(integration__sync_settings__data_type=OuterRef("data_type"))
    setting = setting.annotate(frequency_in_force=_frequency_in_force())
    return Subquery(setting.annotate(deadline=deadline).values("deadline")[:1], output_field=DateTimeField())


def _frequency_in_force():
    """The company's own frequency for the data type, else the portal's (the rule of `effective.py`)."""
    own = CompanySyncSetting.objects.filter(
        company_id=OuterRef("company_id"), data_type=OuterRef(OuterRef("data_type"))
    )
    return Coalesce(
        Subquery(own.values("frequency")[:1]), F("integration__sync_settings__frequency"), output_field=CharField()
    )


def _span(seconds):
    return Value(timedelta(seconds=STALE_FACTOR * seconds))


def after_success(connection_id, data_type, finished, using="default") -> dict:
    """`scheduled` and `stale_after` for the UPDATE that saves a success at `finished`, as plain SQL.

    The rule of `values()`, the last success being `finished`: `stale_after` is `finished`
    plus twice the interval of the data type's frequency, where the schedule runs for the
    row, which the database reads in that UPDATE from the rows as they are then. Plain SQL, made once
    per database: every pull that completes saves this, and the ORM compiling `values()`
    costs more than running it does (measured in benchmarks/README.md).
    """
    scheduled_sql, stale_sql = _success_sql(using)
    db = connections[using]
    connection_id = Connection._meta.pk.get_db_prep_value(connection_id, db)
    stale_params = [data_type, connection_id, LINKED, data_type]
    for frequency, seconds in INTERVALS.items():
        stale = finished + timedelta(seconds=STALE_FACTOR * seconds)
        stale_params += [frequency, db.ops.adapt_datetimefield_value(stale)]
    return {
        "scheduled": RawSQL(scheduled_sql, [connection_id, LINKED], output_field=BooleanField()),
        "stale_after": RawSQL(stale_sql, stale_params, output_field=DateTimeField()),
    }


_success_sql_made = {}


def _success_sql(using):
    made = _success_sql_made.get(using)
    if made is not None:
        return made
    quote = connections[using].ops.quote_name

    def column(model, name):
        return quote(model._meta.get_field(name).column)

    connection_table, integration_table = quote(Connection._meta.db_table), quote(Integration._meta.db_table)
    runs = (
        f"FROM {connection_table} c INNER JOIN {integration_table} i "
        f"ON i.{column(Integration, 'id')} = c.{column(Connection, 'integration')} "
    )
    where = (
        f"WHERE c.{column(Connection, 'id')} = %s AND c.{column(Connection, 'status')} = %s "
        f"AND i.{column(Integration, 'enabled')}"
    )
    scheduled_sql = f"EXISTS(SELECT 1 {runs}{where})"
    setting_table, own_table = quote(SyncSetting._meta.db_table), quote(CompanySyncSetting._meta.db_table)
    # The frequency in force: the company's own for the data type, else the portal's.
    own = (
        f"(SELECT o.{column(CompanySyncSetting, 'frequency')} FROM {own_table} o "
        f"WHERE o.{column(CompanySyncSetting, 'company')} = c.{column(Connection, 'company')} "
        f"AND o.{column(CompanySyncSetting, 'data_type')} = %s)"
    )
    frequency = (
        f"(SELECT COALESCE({own}, s.{column(SyncSetting, 'frequency')}) {runs}INNER JOIN {setting_table} s "
        f"ON s.{column(SyncSetting, 'integration')} = c.{column(Connection, 'integration')} "
        f"{where} AND s.{column(SyncSetting, 'data_type')} = %s)"
    )
    # No setting, frequency "none" or not scheduled: the subquery gives no match, and the row null.
    stale_sql = f"CASE {frequency} {' '.join('WHEN %s THEN %s' for _ in INTERVALS)} ELSE NULL END"
    made = _success_sql_made[using] = (scheduled_sql, stale_sql)
    return made
