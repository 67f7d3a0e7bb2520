"""The database planner's statistics of the record table, refreshed after a large first read.

PostgreSQL plans each query from statistics that autovacuum gathers a minute or so after
a table changes a lot. Until then, a table just filled by a first full read has none,
every index of the record table that starts with (connection, data_type) looks equally
cheap, and the planner may look a few records up through a browsing index, reading every
record of the data type: a re-read of 20,000 invoices right after their first read took
2.5 s instead of 0.9 s (benchmarks/README.md). Statistics gathered before a connection
existed are no better: they know nothing of its id, so the planner may take it for a
handful of rows and choose the same way (1.5 s instead of 0.9 s for the same re-read, in a
table analysed when it held one other connection's records). Autovacuum
analyses again only once a tenth of the table has changed, which a large table may take
days to reach. So after a first read that stored many records, and at least a tenth as
many as the statistics count (a table never analysed counts -1), the table is analysed at
once: a sample of at most 30,000 rows, a fraction of a second, once per first read.
SQLite needs none of this: without statistics its planner takes the index that matches
the most columns, the unique one.
"""

import logging

from django.db import DatabaseError, connections, router, transaction

from ..models import Record

logger = logging.getLogger(__name__)

# A first read that created fewer records leaves the planner's estimates about right.
LARGE_FIRST_READ = 1000


def after_first_read(created: int) -> bool:
    """ANALYZE the record table (PostgreSQL) after a first read that created `created` records,
    at least a tenth of the rows its statistics count; True when it did. Skipped, not waited
    for, when a VACUUM or another ANALYZE holds the table: that one brings them up to date."""
    db = connections[router.db_for_write(Record)]
    if created < LARGE_FIRST_READ or db.vendor != "postgresql":
        return False
    try:
        with transaction.atomic(using=db.alias):  # a failure leaves an outer transaction usable
            return _analyze_when_stale(db, created)
    except DatabaseError:  # statistics only speed up later reads: the pull has completed already
        logger.warning("the record table's statistics were not refreshed", exc_info=True)
        return False


def _analyze_when_stale(db, created) -> bool:
    table = Record._meta.db_table
    with db.cursor() as cursor:
        # The rows the last ANALYZE or VACUUM saw (autovacuum's or ours), kept in the catalogue.
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        (counted,) = cursor.fetchone()
        if counted > created * 10:  # a small share of a large table: its estimates hold
            return False
        cursor.execute(f"ANALYZE (SKIP_LOCKED) {db.ops.quote_name(table)}")
    return True
