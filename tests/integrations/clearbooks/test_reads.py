"""Reading each data type from the sandbox over real HTTP: paging edges, modifiedSince,
servers that ignore the offset, another WSDL of the same protocol, and the wire hashes and
lazy pages the sync engine uses.

Keys are secrets even here: never print them or put them in test ids.
"""

import math

import pytest

from integrations import registry
from integrations.clearbooks.credentials import validate_credentials
from integrations.clearbooks.errors import ClearBooksError
from integrations.clearbooks.reads import SUPPORTED_DATA_TYPES, read_pages
from integrations.registry import CredentialStatus, ErrorKind, NormalizedRecord

from .otherserver import OtherServer
from .reading import SMALL, fast, flat, read_all, read_error


@pytest.mark.parametrize("data_type", SUPPORTED_DATA_TYPES)
def test_it_reads_every_data_type_as_the_sandbox_holds_it(sandbox, data_type):
    key = sandbox.make_key(**SMALL)

    records = flat(read_all(sandbox, key, data_type))

    assert len(records) == sandbox.counts(key)[data_type] > 0
    assert len({r.id for r in records}) == len(records)
    assert all(isinstance(r, NormalizedRecord) and r.id and r.attributes for r in records)


def test_it_maps_invoices_and_bills_with_numbers_amounts_currencies_and_statuses(sandbox):
    key = sandbox.make_key(**SMALL, voided=2)

    invoices = flat(read_all(sandbox, key, "invoices"))
    bills = flat(read_all(sandbox, key, "bills"))

    assert all(r.number.startswith("INV") for r in invoices)
    assert all(r.number.startswith("PUR") for r in bills)
    assert all(r.issued_on and r.due_on and r.total is not None and r.balance is not None for r in invoices)
    codes = {c["code"] for c in sandbox.books(key).currencies}
    assert {r.currency for r in invoices} <= codes and "GBP" in {r.currency for r in invoices}
    assert sum(r.status == "Void" for r in invoices) == 2 == sandbox.statuses(key, "invoices")["voided"]
    assert {r.status for r in bills} <= {"Draft", "Open", "PartiallyPaid", "Paid", "Void"}
    entity_ids = {r.id for r in flat(read_all(sandbox, key, "customers"))}
    assert {r.related_id for r in invoices} <= entity_ids
    assert all(r.attributes["items"] for r in bills)


def test_it_reads_entities_with_their_nested_objects(sandbox):
    key = sandbox.make_key(**SMALL)

    customers = flat(read_all(sandbox, key, "customers"))
    suppliers = flat(read_all(sandbox, key, "suppliers"))

    assert all(r.name and r.modified_at for r in customers)
    assert all("customer" in r.attributes and "bankAccount" in r.attributes for r in customers)
    assert len({r.id for r in customers} & {r.id for r in suppliers}) == 2  # `both`
    assert not any("&amp;" in r.name for r in customers + suppliers)


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250])
def test_it_pages_invoices_by_the_records_received(sandbox, count):
    key = sandbox.make_key(seed="paging", invoices=count, voided=0)

    pages = read_all(sandbox, key, "invoices")

    assert [len(p) for p in pages] == [100] * (count // 100) + ([count % 100] if count % 100 else [])
    assert len({r.id for r in flat(pages)}) == count
    # listCurrencies, one call per page, and one empty page to know it is the end.
    assert sandbox.calls(key) == 1 + math.ceil(count / 100) + 1


@pytest.mark.parametrize(
    ("data_type", "operation", "size"), [("customers", "listEntities", 10), ("trackingCategories", "listProjects", 3)]
)
def test_it_pages_whatever_page_size_the_server_chooses(sandbox, data_type, operation, size):
    sandbox.configure(page_sizes={operation: size})
    key = sandbox.make_key(seed="sizes", customers=25, projects=7)
    expected = sandbox.counts(key)[data_type]

    pages = read_all(sandbox, key, data_type)

    assert [len(p) for p in pages][:-1] == [size] * (len(pages) - 1)
    assert sum(len(p) for p in pages) == expected == len({r.id for p in pages for r in p})


def test_it_reads_only_changed_entities_with_modified_since(sandbox):
    from datetime import UTC, datetime, timedelta

    key = sandbox.make_key(seed="since", customers=30, suppliers=4, both=0, anchor="2024-01-01")
    assert len(flat(read_all(sandbox, key, "customers"))) == 30
    changed = set(sandbox.touch(key, "customers", 4))

    since = datetime.now(UTC) - timedelta(minutes=5)
    records = flat(read_all(sandbox, key, "customers", modified_since=since))

    assert {r.id for r in records} == changed


def test_it_reads_invoices_in_full_even_with_modified_since(sandbox):
    from datetime import UTC, datetime

    key = sandbox.make_key(seed="since", invoices=15, anchor="2024-01-01")

    records = flat(read_all(sandbox, key, "invoices", modified_since=datetime.now(UTC)))

    assert len(records) == 15


def test_it_says_not_supported_for_other_data_types(sandbox):
    key = sandbox.make_key(**SMALL)

    error = read_error(sandbox, key, "journals")

    assert error.kind == ErrorKind.NOT_SUPPORTED
    assert "journals" in error.message
    assert sandbox.calls(key) == 0


def test_it_stops_with_a_relink_error_when_the_key_is_revoked_mid_read(sandbox):
    key = sandbox.make_key(seed="revoke", invoices=250)
    sandbox.revoke(key=key, after_calls=2)  # listCurrencies and the first page get through
    pages = read_pages(sandbox.wsdl_url, key, "invoices", policy=fast()[0])

    assert len(next(pages)) == 100
    with pytest.raises(ClearBooksError) as info:
        next(pages)
    assert info.value.kind == ErrorKind.AUTH


def test_it_stops_when_a_server_ignores_the_offset(sandbox):
    key = sandbox.make_key(**SMALL)
    with OtherServer(sandbox.soap_url, ignore_offset=True) as other, pytest.raises(ClearBooksError) as info:
        list(read_pages(other.wsdl_url, key, "invoices", policy=fast()[0]))

    assert info.value.kind == ErrorKind.PERMANENT
    assert "same invoices again" in info.value.message


def test_it_works_with_another_wsdl_of_the_same_protocol(sandbox):
    """A hand-written WSDL on another port and path, in the legacy namespace, with other prefixes,
    message names and no header declared in the binding: only the documented names match."""
    key = sandbox.make_key(**SMALL)
    with OtherServer(sandbox.soap_url) as other:
        assert validate_credentials(other.wsdl_url, key).status == CredentialStatus.VALID
        for data_type in SUPPORTED_DATA_TYPES:
            records = flat(list(read_pages(other.wsdl_url, key, data_type, policy=fast()[0])))
            assert len(records) == sandbox.counts(key)[data_type], data_type
        assert other.namespaces == {other.namespace}
        assert other.wsdl_gets == 1


#
# Wire hashes and lazy pages, for the sync engine
#


def test_a_lazy_read_maps_records_only_when_asked_and_exactly_as_an_eager_one(sandbox):
    key = sandbox.make_key(**{**SMALL, "invoices": 130})
    eager = flat(read_all(sandbox, key, "invoices", wire_hashes=True))
    pages = read_all(sandbox, key, "invoices", lazy=True)

    assert all(isinstance(page, registry.WirePage) for page in pages) and [len(p) for p in pages] == [100, 30]
    lazy = flat(page.records() for page in pages)
    assert lazy == eager  # ids, normalized fields and attributes
    assert [r.wire_hash for r in lazy] == [r.wire_hash for r in eager] == flat(p.wire_hashes for p in pages)
    assert len({r.wire_hash for r in eager}) == 130

    skipped = pages[1].records(skip={0, 2})
    assert [r.id for r in skipped] == [r.id for r in eager[100:]][1:2] + [r.id for r in eager[103:]]


def test_a_changed_record_gets_a_new_wire_hash_and_the_others_keep_theirs(sandbox):
    key = sandbox.make_key(**SMALL)
    before = {r.id: r.wire_hash for r in flat(read_all(sandbox, key, "customers", wire_hashes=True))}
    (touched,) = sandbox.touch(key, "customers", 1)
    after = {r.id: r.wire_hash for r in flat(read_all(sandbox, key, "customers", wire_hashes=True))}

    assert after.keys() == before.keys()
    assert [i for i in after if after[i] != before[i]] == [touched]


def test_a_plain_read_spends_nothing_on_wire_hashes(sandbox):
    key = sandbox.make_key(**SMALL)
    assert {r.wire_hash for r in flat(read_all(sandbox, key, "invoices"))} == {""}


def test_a_lazy_read_still_refuses_a_broken_answer(sandbox):
    policy, _ = fast()
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="malformed", count=1, key=key, operation="listInvoices")

    error = read_error(sandbox, key, "invoices", policy, lazy=True)

    assert error.kind == ErrorKind.PERMANENT and "well-formed" in error.detail


@pytest.mark.parametrize("kind", ["entity_bomb", "external_entity"])
def test_a_dtd_in_an_answer_is_refused_unexpanded_and_unread(sandbox, kind):
    policy, _ = fast()
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind=kind, count=1, key=key, operation="listInvoices")

    error = read_error(sandbox, key, "invoices", policy)

    # Refused at once, before any parsing: nothing expanded, no file read. Not retried either: the
    # hostile answer came once only, so a second try would have succeeded.
    assert error.kind == ErrorKind.PERMANENT
    assert error.message == "Clear Books sent an answer we couldn't read."
    assert "DOCTYPE" in error.detail
    assert "lol" not in error.detail and "root:" not in error.detail
