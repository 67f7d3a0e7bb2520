"""The Clear Books client over real HTTP against the sandbox: every data type, paging edges,
modifiedSince, every error class, revocation, the WSDL cache, and the API key never leaking.

Keys are secrets even here: never print them or put them in test ids.
"""

import logging
import math
import socket
import threading
import time
import traceback

import pytest
from lxml import etree

from integrations import registry
from integrations.clearbooks import client
from integrations.clearbooks.client import ApiKey, RetryPolicy
from integrations.clearbooks.errors import ClearBooksError
from integrations.registry import CredentialStatus, ErrorKind, NormalizedRecord

from .otherserver import OtherServer


class Sleeps(list):
    """Records the waits a policy asks for instead of waiting (bounded, fast tests)."""

    def __call__(self, seconds):
        self.append(seconds)


def fast(attempts=3):
    sleeps = Sleeps()
    return RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05, sleep=sleeps), sleeps


def read_all(sandbox, key, data_type, policy=None, **kwargs):
    pages = client.read_pages(sandbox.wsdl_url, key, data_type, policy=policy or fast()[0], **kwargs)
    return list(pages)


def flat(pages):
    return [record for page in pages for record in page]


def read_error(sandbox, key, data_type, policy=None, **kwargs) -> ClearBooksError:
    with pytest.raises(ClearBooksError) as info:
        read_all(sandbox, key, data_type, policy=policy, **kwargs)
    return info.value


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SMALL = {"seed": "client", "customers": 7, "suppliers": 5, "both": 2, "invoices": 12, "bills": 9, "projects": 4}


@pytest.mark.parametrize("data_type", client.SUPPORTED_DATA_TYPES)
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


#
# Errors
#


def test_it_never_retries_a_rejected_key(sandbox):
    policy, sleeps = fast()
    key = sandbox.make_key(seed="gone", revoked=True)

    error = read_error(sandbox, key, "customers", policy)

    assert error.kind == ErrorKind.AUTH
    assert error.message == "Clear Books rejected the API key: the company must relink."
    assert "Login Failed" in error.detail and "HTTP 500" in error.detail
    assert sleeps == []


def test_it_validates_keys_as_valid_rejected_or_unreachable(sandbox):
    good = sandbox.make_key(**SMALL)
    bad = sandbox.make_key(seed="x", revoked=True)

    assert client.validate_credentials(sandbox.wsdl_url, good).status == CredentialStatus.VALID
    rejected = client.validate_credentials(sandbox.wsdl_url, bad)
    assert rejected.status == CredentialStatus.REJECTED
    assert "rejected this API key" in rejected.message
    typo = client.validate_credentials(sandbox.wsdl_url, good[:-1] + ("0" if good[-1] != "0" else "1"))
    assert typo.status == CredentialStatus.REJECTED
    empty = client.validate_credentials(sandbox.wsdl_url, "")
    assert empty.status == CredentialStatus.REJECTED
    assert "saw no key" in empty.detail
    policy, _ = fast()
    nowhere = client.validate_credentials(f"http://127.0.0.1:{free_port()}/api/accounting/wsdl/", good, policy=policy)
    assert nowhere.status == CredentialStatus.UNREACHABLE
    assert "couldn't reach Clear Books" in nowhere.message


def test_it_validates_through_the_provider_with_the_integration_settings(sandbox):
    provider = registry.get("jhch")
    key = sandbox.make_key(**SMALL)

    assert provider.validate_credentials({}, {"api_key": key}).status == CredentialStatus.VALID
    pages = list(provider.read({"timeout": 30}, {"api_key": key}, "trackingCategories"))
    assert len(flat(pages)) == 4


def test_it_retries_transient_failures_then_succeeds(sandbox):
    policy, sleeps = fast(attempts=4)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="http500", count=2, key=key, operation="listInvoices")
    sandbox.fail_next(kind="empty", count=1, key=key, operation="listInvoices")

    records = flat(read_all(sandbox, key, "invoices", policy))

    assert len(records) == 12
    assert len(sleeps) == 3
    assert sleeps[1] >= sleeps[0] * 0.5 and all(0 < s <= 0.05 for s in sleeps)


def test_it_gives_up_on_transient_failures_after_the_bounded_tries(sandbox):
    policy, sleeps = fast(attempts=3)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="http500", count=5, key=key)

    error = read_error(sandbox, key, "chartOfAccounts", policy)

    assert error.kind == ErrorKind.TRANSIENT
    assert error.message == "We couldn't reach Clear Books after 3 tries (HTTP 500)."
    assert "without a SOAP Fault" in error.detail
    assert len(sleeps) == 2


def test_it_honours_retry_after_on_503_and_429(sandbox):
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=2.0, sleep=sleeps)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="http503", count=1, key=key)

    assert len(flat(read_all(sandbox, key, "paymentMethods", policy))) == 5
    assert sleeps == [1.0]  # the sandbox sends Retry-After: 1


def test_it_reports_rate_limiting_once_retries_run_out(sandbox):
    policy, sleeps = fast(attempts=3)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="http429", count=3, key=key)

    error = read_error(sandbox, key, "bankAccounts", policy)

    assert error.kind == ErrorKind.RATE_LIMIT
    assert error.message == "Clear Books kept asking us to slow down after 3 tries (HTTP 429)."
    assert sleeps == [0.05, 0.05]  # Retry-After: 1, capped by max_delay


def test_it_retries_a_rate_limit_that_clears(sandbox):
    policy, sleeps = fast(attempts=3)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="http429", count=1, key=key)

    assert len(flat(read_all(sandbox, key, "bankAccounts", policy))) == 3
    assert len(sleeps) == 1


@pytest.mark.parametrize("kind", ["malformed", "fault"])
def test_it_fails_permanently_on_answers_that_cannot_be_used(sandbox, kind):
    policy, sleeps = fast()
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind=kind, count=1, key=key, operation="listProjects", fault_string="Invalid offset")

    error = read_error(sandbox, key, "trackingCategories", policy)

    assert error.kind == ErrorKind.PERMANENT
    assert sleeps == []
    if kind == "malformed":
        assert error.message == "Clear Books sent an answer we couldn't read."
        assert "well-formed" in error.detail
    else:
        assert error.message == "Clear Books refused the request: Invalid offset."
        assert "SOAP Fault" in error.detail


def test_it_stops_reading_an_oversized_answer(sandbox):
    sandbox.configure(oversized_mb=51)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="oversized", count=1, key=key, operation="listAccountCodes")

    error = read_error(sandbox, key, "chartOfAccounts")

    assert error.kind == ErrorKind.PERMANENT
    assert "larger than 50 MB" in error.message


def test_it_times_out_a_slow_answer_and_retries(sandbox):
    policy, sleeps = fast(attempts=2)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="slow", count=2, key=key, operation="listPaymentMethods", delay_ms=1600)
    started = time.monotonic()

    error = read_error(sandbox, key, "paymentMethods", policy, timeout=1)

    assert error.kind == ErrorKind.TRANSIENT
    assert error.message == "We couldn't reach Clear Books after 2 tries (timed out)."
    assert len(sleeps) == 1
    assert time.monotonic() - started < 6


def test_it_stops_with_a_relink_error_when_the_key_is_revoked_mid_read(sandbox):
    key = sandbox.make_key(seed="revoke", invoices=250)
    sandbox.revoke(key=key, after_calls=2)  # listCurrencies and the first page get through
    pages = client.read_pages(sandbox.wsdl_url, key, "invoices", policy=fast()[0])

    assert len(next(pages)) == 100
    with pytest.raises(ClearBooksError) as info:
        next(pages)
    assert info.value.kind == ErrorKind.AUTH


def test_it_reports_nothing_listening_as_transient():
    policy, sleeps = fast(attempts=2)
    url = f"http://127.0.0.1:{free_port()}/api/accounting/wsdl/"

    with pytest.raises(ClearBooksError) as info:
        list(client.read_pages(url, "whatever", "invoices", policy=policy))

    assert info.value.kind == ErrorKind.TRANSIENT
    assert info.value.message == "We couldn't reach Clear Books after 2 tries (connection failed)."
    assert len(sleeps) == 1


def test_it_explains_a_wsdl_url_that_is_not_a_wsdl(sandbox):
    key = sandbox.make_key(**SMALL)
    with pytest.raises(ClearBooksError) as info:
        list(client.read_pages(sandbox.base_url + "/nowhere/", key, "invoices", policy=fast()[0]))
    error = info.value
    assert error.kind == ErrorKind.PERMANENT
    assert "HTTP 404" in error.message and "WSDL URL" in error.message
    with pytest.raises(ClearBooksError) as info:
        list(client.read_pages(sandbox.base_url + "/_sandbox/health", key, "invoices", policy=fast()[0]))
    assert info.value.kind == ErrorKind.PERMANENT
    assert "WSDL" in info.value.message


def test_it_stops_when_a_server_ignores_the_offset(sandbox):
    key = sandbox.make_key(**SMALL)
    with OtherServer(sandbox.soap_url, ignore_offset=True) as other, pytest.raises(ClearBooksError) as info:
        list(client.read_pages(other.wsdl_url, key, "invoices", policy=fast()[0]))

    assert info.value.kind == ErrorKind.PERMANENT
    assert "same invoices again" in info.value.message


#
# The WSDL, any server, threads
#


def test_it_parses_the_wsdl_once_per_process(sandbox):
    client.clear_cache()
    key = sandbox.make_key(**SMALL)

    for data_type in client.SUPPORTED_DATA_TYPES:
        read_all(sandbox, key, data_type)
    client.validate_credentials(sandbox.wsdl_url, key)

    service = client.get_service(sandbox.wsdl_url, 60)
    assert service is client.get_service(sandbox.wsdl_url, 60.0)
    assert service.transport.wsdl_loads == 1
    # Another timeout is another client, but zeep's document cache spares the download.
    assert client.get_service(sandbox.wsdl_url, 30).transport.wsdl_loads == 0


def test_it_shares_one_service_between_threads(sandbox):
    client.clear_cache()
    key = sandbox.make_key(**SMALL)
    results, barrier = [], threading.Barrier(4)

    def work():
        barrier.wait(timeout=10)
        results.append(len(flat(read_all(sandbox, key, "customers"))))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results == [7, 7, 7, 7]
    assert client.get_service(sandbox.wsdl_url, 60).transport.wsdl_loads == 1


def test_it_works_with_another_wsdl_of_the_same_protocol(sandbox):
    """A hand-written WSDL on another port and path, in the legacy namespace, with other prefixes,
    message names and no header declared in the binding: only the documented names match."""
    key = sandbox.make_key(**SMALL)
    with OtherServer(sandbox.soap_url) as other:
        assert client.validate_credentials(other.wsdl_url, key).status == CredentialStatus.VALID
        for data_type in client.SUPPORTED_DATA_TYPES:
            records = flat(list(client.read_pages(other.wsdl_url, key, data_type, policy=fast()[0])))
            assert len(records) == sandbox.counts(key)[data_type], data_type
        assert other.namespaces == {other.namespace}
        assert other.wsdl_gets == 1


def rendered_by_zeep(service, operation, key, params):
    document, headers = service.client.service._binding._create(
        operation,
        (),
        {**params, "_soapheaders": [service._header(ApiKey(key))]},
        client=service.client,
        options=service.client.service._binding_options,
    )
    return etree.tostring(document, xml_declaration=True, encoding="utf-8"), headers


@pytest.mark.parametrize("other_wsdl", [False, True])
def test_it_sends_byte_for_byte_what_zeep_renders_while_rendering_each_shape_once(sandbox, monkeypatch, other_wsdl):
    client.clear_cache()
    with OtherServer(sandbox.soap_url) as other:
        service = client.get_service(other.wsdl_url if other_wsdl else sandbox.wsdl_url, 60)
        renders = []
        create = type(service.client.service._binding)._create
        monkeypatch.setattr(
            type(service.client.service._binding), "_create", lambda *a, **kw: renders.append(a[1]) or create(*a, **kw)
        )
        compared = 0
        for key in ("plain-key", "a&b<c>\"d'e", "clé£"):
            for read in client.READS.values():
                for offset in (0, 100, 12_345):
                    for since in ("2024-01-31", None) if read.incremental else (None,):
                        params = client._params(read, offset, since)
                        envelope = service._envelope(read.operation, params)
                        body = envelope.fill(client._key_text(ApiKey(key)), client._offset(params))
                        assert (body, envelope.headers) == rendered_by_zeep(service, read.operation, key, params)
                        compared += 1
        # One render per (operation, parameters but the offset); the rest are the comparisons'.
        assert len(service._envelopes) == 10
        assert len(renders) == 10 + compared


def test_it_goes_through_zeep_in_full_when_its_envelope_cannot_be_reused(sandbox, monkeypatch):
    client.clear_cache()
    monkeypatch.setattr(client._Envelope, "split", classmethod(lambda cls, *a, **kw: None))
    key = sandbox.make_key(**SMALL)

    records = flat(read_all(sandbox, key, "invoices"))

    assert len(records) == sandbox.counts(key)["invoices"]
    assert set(client.get_service(sandbox.wsdl_url, 60)._envelopes.values()) == {None}


#
# The key never leaks
#


def test_it_never_lets_the_api_key_out(sandbox, caplog, capsys):
    for name in (None, "zeep", "zeep.transports", "urllib3", "urllib3.connectionpool", "requests", client.__name__):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
    client.clear_cache()
    key = sandbox.make_key(**SMALL)
    revoked = sandbox.make_key(seed="leak", revoked=True)
    policy, _ = fast(attempts=2)
    raised = []

    client.validate_credentials(sandbox.wsdl_url, key)
    client.validate_credentials(sandbox.wsdl_url, revoked)
    for data_type in ("invoices", "customers", "bankAccounts"):
        read_all(sandbox, key, data_type)
    sandbox.fail_next(kind="fault", count=1, key=key, operation="listInvoices", fault_string=f"Nothing for {key} here")
    sandbox.fail_next(kind="http500", count=2, key=key, operation="listAccountCodes")
    sandbox.fail_next(kind="malformed", count=1, key=key, operation="listProjects")
    for k, data_type in ((key, "bills"), (key, "chartOfAccounts"), (key, "trackingCategories"), (revoked, "bills")):
        with pytest.raises(ClearBooksError) as info:
            read_all(sandbox, k, data_type, policy)
        raised.append(info.value)
    # zeep's own transport logs whole envelopes at DEBUG: the filter must blank the key there too.
    logging.getLogger("zeep.transports").debug("HTTP Post to %s:\n%s", "x", f"<cb:apiKey>{key}</cb:apiKey>")
    logging.getLogger("zeep.transports").debug(f'<authenticate apiKey="{key}"/>')

    text = caplog.text + "".join(r.getMessage() for r in caplog.records) + "".join(capsys.readouterr())
    assert "POST /api/accounting/soap/" in text  # urllib3 really logged at DEBUG
    assert "<cb:apiKey>[redacted]</cb:apiKey>" in text and 'apiKey="[redacted]"' in text
    for secret in (key, revoked):
        assert secret not in text
        for error in raised:
            rendered = "".join(traceback.format_exception(error))
            assert secret not in f"{error} {error!r} {error.message} {error.detail} {rendered}"
            assert error.__cause__ is None and error.__context__ is None
    assert raised[0].message == "Clear Books refused the request: Nothing for [redacted] here."
    assert key not in repr(ApiKey(key)) and key not in str(ApiKey(key))
    assert key not in repr(client.get_service(sandbox.wsdl_url, 60))
    assert key not in repr(client.read_pages(sandbox.wsdl_url, key, "invoices"))


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
