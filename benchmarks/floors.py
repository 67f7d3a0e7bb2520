"""The three floors of the sync benchmark: the least work any correct implementation does.

Each floor sends the very requests a full sync sends (bytes built by zeep once, as the
client sends them) over one keep-alive session, and does only what any implementation
must do with the answers:

- **parse**: an lxml parse of each body; nothing read, nothing stored.
- **fields**: the parse, plus every value of every record read into a Python dict
  (attributes, child elements' text, nested objects and the list of line items).
- **store**: the fields, plus per record a JSON encoding and a SHA-256, and per page one
  multi-row upsert (`INSERT … ON CONFLICT DO UPDATE`) in its own transaction into a
  table with the record table's unique key and its three browsing indexes, in the same
  database the sync uses (an SQLite file beside it with the portal's pragmas, or the
  same PostgreSQL server), through the database driver itself.

So a ratio to a floor measures our own overhead, not the speed of the machine's disk.
None of this is a path of the portal.
"""

import hashlib
import sqlite3
import time

import orjson
import psycopg
from lxml import etree

TABLE = "bench_floor_record"
COLUMNS = ("connection_id", "data_type", "remote_id", "number", "issued_on", "total", "attributes", "content_hash")
# The record table's unique key and its three browsing indexes (connections.models.Record).
INDEXES = (
    f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_unique ON {TABLE} (connection_id, data_type, remote_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_issued ON {TABLE} (connection_id, data_type, issued_on)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_total ON {TABLE} (connection_id, data_type, total)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_number ON {TABLE} (connection_id, data_type, number)",
)
RECORD_TAG = {"invoices": "{*}Invoice", "customers": "{*}Entity", "suppliers": "{*}Entity"}


def parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def element_fields(element) -> dict:
    """Every value of a record: its attributes, and each child as text, an object or a list."""
    out = dict(element.attrib)
    for child in element:
        name = etree.QName(child).localname
        if len(child):  # a list of records (an invoice's items)
            out[name] = [element_fields(member) for member in child]
        elif child.attrib:  # an object (an entity's customer, supplier, bankAccount)
            out[name] = dict(child.attrib)
        else:
            out[name] = child.text or ""
    return out


def index_values(data_type, fields):
    """(remote id, number, issued on, total): the columns the unique key and indexes need."""
    if data_type == "invoices":
        return fields["invoice_id"], fields["invoiceNumber"], fields["dateCreated"][:10], fields["gross"]
    return fields["id"], "", None, None


class Session:
    """The floors' HTTP: one keep-alive session posting the pre-built requests."""

    def __init__(self, address):
        import requests

        self.address = address
        self.session = requests.Session()
        # Like the client's session, the floor's does not re-read proxy variables and ~/.netrc
        # from the environment on every request: the floor is the bare minimum.
        self.session.trust_env = False

    def post(self, action, body) -> bytes:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
        response = self.session.post(self.address, data=body, headers=headers)
        response.raise_for_status()
        return response.content


def parse_floor(session, calls):
    xml = parser()
    for action, body in calls:
        etree.fromstring(session.post(action, body), xml)


def fields_floor(session, calls, data_type):
    xml, tag, count = parser(), RECORD_TAG[data_type], 0
    for action, body in calls:
        root = etree.fromstring(session.post(action, body), xml)
        count += len([element_fields(element) for element in root.iter(tag)])
    return count


def store_floor(session, calls, data_type, table, connection_id):
    xml, tag = parser(), RECORD_TAG[data_type]
    stored = 0
    for action, body in calls:
        root = etree.fromstring(session.post(action, body), xml)
        rows = []
        for element in root.iter(tag):
            fields = element_fields(element)
            text = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
            digest = hashlib.sha256(text).hexdigest()
            remote_id, number, issued_on, total = index_values(data_type, fields)
            rows.append((connection_id, data_type, remote_id, number, issued_on, total, text.decode(), digest))
        if rows:
            table.upsert(rows)
            stored += len(rows)
    return stored


class SqliteTable:
    """The store floor's table in an SQLite file, with the portal's pragmas (portal/settings.py)."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        columns = "connection_id integer, data_type text, remote_id text, number text, issued_on date, "
        columns += "total decimal, attributes text, content_hash text"
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
        for sql in INDEXES:
            self.db.execute(sql)
        self._row = "(" + ", ".join("?" * len(COLUMNS)) + ")"

    def upsert(self, rows):
        sql = _upsert_sql([self._row] * len(rows))
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(sql, [value for row in rows for value in row])
        self.db.execute("COMMIT")

    def close(self):
        self.db.close()


class PostgresTable:
    """The store floor's table on the PostgreSQL server the sync uses (attributes as jsonb, as Record's)."""

    def __init__(self, url):
        self.db = psycopg.connect(url)
        columns = "connection_id bigint, data_type varchar(50), remote_id varchar(100), number varchar(100), "
        columns += "issued_on date, total numeric(18, 4), attributes jsonb, content_hash varchar(64)"
        with self.db.transaction():
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
            for sql in INDEXES:
                self.db.execute(sql)
        self._casts = ("", "", "", "", "::date", "::numeric", "::jsonb", "")
        self._statements = {}

    def upsert(self, rows):
        # PostgreSQL's own placeholders on a RawCursor, prepared: psycopg neither rewrites the
        # statement's thousands of %s nor the server parses it again for every page.
        sql = self._statements.get(len(rows))
        if sql is None:
            width = len(COLUMNS)
            numbered = [
                "(" + ", ".join(f"${n * width + i + 1}{cast}" for i, cast in enumerate(self._casts)) + ")"
                for n in range(len(rows))
            ]
            sql = self._statements[len(rows)] = _upsert_sql(numbered)
        with self.db.transaction(), psycopg.RawCursor(self.db) as cursor:
            cursor.execute(sql, [value for row in rows for value in row], prepare=True)

    def close(self):
        self.db.close()


def _upsert_sql(rows):
    updates = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS[3:])
    return (
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {', '.join(rows)} "
        f"ON CONFLICT (connection_id, data_type, remote_id) DO UPDATE SET {updates}"
    )


def open_table(database_url, sqlite_path):
    if database_url.startswith("postgres"):
        return PostgresTable(database_url)
    return SqliteTable(sqlite_path)


def timed(fn, *args):
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started
