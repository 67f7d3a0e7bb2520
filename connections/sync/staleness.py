"""`DataStatus.stale_after` and `scheduled`: kept current where their inputs change.

`scheduled` says the schedule runs for the row: its connection is Linked and its integration
is on (the dashboard lists failing data types among these, from one index).

Data is stale when no pull succeeded within twice its data type's interval, counted from
the last success or, before the first one, from the link time. That only applies while
the schedule runs for it: the connection is Linked, its integration is on and the data
type's frequency is not "none"; otherwise `stale_after` is null. Stored, the dashboard
finds stale data by one index range (`stale_after < now`) that holds only scheduled rows,
instead of reading every old data status, including those of Deauthorized and Unlinked
connections that nothing refreshes.

Its inputs change in four places, each of which calls in here:
- a data status is created or its last success is saved (`DataStatus.save`, pulls ending),
- a connection's status moves (`status.move`: Linked, or away from Linked; relinks move `linked_at`),
- an integration is switched on or off (`integrations.services.set_enabled`),
- sync settings are saved (`integrations.services.save_settings`: frequencies).

Each is one UPDATE whose value the database computes from the rows as they are then,
so a concurrent change to another input is read, not overwritten with a stale copy.
"""

from datetime import timedelta

from django.db import connections
from django.db.models import BooleanField, Case, DateTimeField, Exists, F, OuterRef, Q, Subquery, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

# Data is stale when no pull succeeded within this many of its intervals.
STALE_FACTOR = 2
LINKED = "Linked"


def _models(apps=None):
    """The models, or their historical versions inside a migration."""
    if apps is not None:
        get = apps.get_model
        return get("connections", "DataStatus"), get("connections", "Connection"), get("integrations", "SyncSetting")
    from integrations.models import SyncSetting

    from ..models import Connection, DataStatus

    return DataStatus, Connection, SyncSetting


def _interval_seconds(setting):
    from integrations.registry import FREQUENCY_SECONDS, Frequency

    return FREQUENCY_SECONDS[Frequency(setting.frequency)]


def stale_after_expression(settings, apps=None):
    """The value of `stale_after` for a data status row, as one SQL expression.

    One branch per sync setting with an interval: the row's data type under that setting's
    integration, on a Linked connection of it while the integration is on. Any other row
    gets null (not scheduled: never stale).
    """
    _, Connection, _ = _models(apps)
    linked_at = Connection.objects.filter(pk=OuterRef("connection_id")).values("linked_at")[:1]
    reference = Coalesce(F("last_successful_sync_at"), Subquery(linked_at), output_field=DateTimeField())
    branches = []
    for setting in settings:
        seconds = _interval_seconds(setting)
        if not seconds:
            continue  # frequency "none": refreshed by hand only, never stale
        scheduled = Exists(
            Connection.objects.filter(
                pk=OuterRef("connection_id"),
                status=LINKED,
                integration_id=setting.integration_id,
                integration__enabled=True,
            )
        )
        branches.append(
            When(
                Q(data_type=setting.data_type) & Q(scheduled),
                then=reference + timedelta(seconds=STALE_FACTOR * seconds),
            )
        )
    if not branches:
        return None
    return Case(*branches, default=None, output_field=DateTimeField())


def scheduled_expression(apps=None):
    """The value of `scheduled`: the row's connection is Linked and its integration on."""
    _, Connection, _ = _models(apps)
    return Exists(Connection.objects.filter(pk=OuterRef("connection_id"), status=LINKED, integration__enabled=True))


FIELDS = ("scheduled", "stale_after")


def refresh(rows, settings, apps=None, fields=FIELDS) -> int:
    """Recompute `scheduled` and `stale_after` of the data statuses in `rows` from the sync settings
    that can apply to them (`fields`: only these, for a migration that predates the other)."""
    values = {}
    if "scheduled" in fields:
        values["scheduled"] = scheduled_expression(apps)
    if "stale_after" in fields:
        values["stale_after"] = stale_after_expression(list(settings), apps)
    return rows.update(**values)


def refresh_data_status(connection_id, data_type) -> int:
    """After a pull of this data type ended (its last success may have moved): two queries."""
    DataStatus, _, SyncSetting = _models()
    settings = SyncSetting.objects.filter(data_type=data_type, integration__connections=connection_id)
    return refresh(DataStatus.objects.filter(connection_id=connection_id, data_type=data_type), settings)


def after_success(connection_id, data_type, finished, using="default") -> dict:
    """`scheduled` and `stale_after` for a data status whose pull just succeeded at `finished`.

    Expressions to put in the UPDATE that saves the success, so they cost no query of their
    own: the last success is `finished`, so `stale_after` is `finished` plus twice the
    interval of the data type's frequency, when the schedule runs for the row. Which
    frequency, and whether it runs, the database reads in that UPDATE from the rows as they
    are then, as `refresh` does. Plain SQL, made once per database: compiling the general
    expressions costs several times more than running them, on every pull.
    """
    scheduled_sql, stale_sql, frequencies, pk_field = _success_sql(using)
    db = connections[using]
    connection_id = pk_field.get_db_prep_value(connection_id, db)
    stale_params = [connection_id, LINKED, data_type]
    for frequency, seconds in frequencies:
        stale = finished + timedelta(seconds=STALE_FACTOR * seconds)
        stale_params += [frequency, db.ops.adapt_datetimefield_value(stale)]
    return {
        "scheduled": RawSQL(scheduled_sql, [connection_id, LINKED], output_field=BooleanField()),
        "stale_after": RawSQL(stale_sql, stale_params, output_field=DateTimeField()),
    }


_success_sql_cache = {}


def _success_sql(using):
    made = _success_sql_cache.get(using)
    if made is not None:
        return made
    from integrations.models import Integration, SyncSetting
    from integrations.registry import FREQUENCY_SECONDS

    from ..models import Connection

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
    frequencies = tuple((str(f), seconds) for f, seconds in FREQUENCY_SECONDS.items() if seconds)
    setting_table = quote(SyncSetting._meta.db_table)
    frequency = (
        f"(SELECT s.{column(SyncSetting, 'frequency')} {runs}INNER JOIN {setting_table} s "
        f"ON s.{column(SyncSetting, 'integration')} = c.{column(Connection, 'integration')} "
        f"{where} AND s.{column(SyncSetting, 'data_type')} = %s)"
    )
    # No setting, frequency "none" or not scheduled: the subquery gives no match, and the row null.
    stale_sql = f"CASE {frequency} {' '.join('WHEN %s THEN %s' for _ in frequencies)} ELSE NULL END"
    made = _success_sql_cache[using] = (scheduled_sql, stale_sql, frequencies, Connection._meta.pk)
    return made


def refresh_connection(connection) -> int:
    """After a status move (Linked, or away from it; a relink also moves `linked_at`)."""
    DataStatus, _, SyncSetting = _models()
    settings = SyncSetting.objects.filter(integration_id=connection.integration_id)
    return refresh(DataStatus.objects.filter(connection_id=connection.pk), settings)


def refresh_integration(integration, data_types=None) -> int:
    """After the integration was switched on or off, or frequencies changed (`data_types`: only those)."""
    DataStatus, _, SyncSetting = _models()
    rows = DataStatus.objects.filter(connection__integration_id=integration.pk)
    settings = SyncSetting.objects.filter(integration_id=integration.pk)
    if data_types is not None:
        rows = rows.filter(data_type__in=list(data_types))
        settings = settings.filter(data_type__in=list(data_types))
    return refresh(rows, settings)


def refresh_all(apps=None, fields=FIELDS) -> int:
    """Every data status: the migrations' backfill, and after loading rows in bulk (benchmarks)."""
    DataStatus, _, SyncSetting = _models(apps)
    return refresh(DataStatus.objects.all(), SyncSetting.objects.all(), apps, fields)
