"""The transport and the process's services: capped and timed-out answers, WSDL URLs that
are not WSDLs, the WSDL parsed once per process and shared by threads, and the cache
of WSDL documents.

Keys are secrets even here: never print them or put them in test ids.
"""

import threading
import time

import pytest

from integrations.clearbooks.credentials import validate_credentials
from integrations.clearbooks.errors import ClearBooksError
from integrations.clearbooks.reads import SUPPORTED_DATA_TYPES, read_pages
from integrations.clearbooks.service import clear_cache, get_service
from integrations.clearbooks.transport import DocumentCache
from integrations.registry import ErrorKind

from .reading import SMALL, fast, flat, read_all, read_error


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


def test_it_explains_a_wsdl_url_that_is_not_a_wsdl(sandbox):
    key = sandbox.make_key(**SMALL)
    with pytest.raises(ClearBooksError) as info:
        list(read_pages(sandbox.base_url + "/nowhere/", key, "invoices", policy=fast()[0]))
    error = info.value
    assert error.kind == ErrorKind.PERMANENT
    assert "HTTP 404" in error.message and "WSDL URL" in error.message
    with pytest.raises(ClearBooksError) as info:
        list(read_pages(sandbox.base_url + "/_sandbox/health", key, "invoices", policy=fast()[0]))
    assert info.value.kind == ErrorKind.PERMANENT
    assert "WSDL" in info.value.message


#
# The WSDL, once per process
#


def test_it_parses_the_wsdl_once_per_process(sandbox):
    clear_cache()
    key = sandbox.make_key(**SMALL)

    for data_type in SUPPORTED_DATA_TYPES:
        read_all(sandbox, key, data_type)
    validate_credentials(sandbox.wsdl_url, key)

    service = get_service(sandbox.wsdl_url, 60)
    assert service is get_service(sandbox.wsdl_url, 60.0)
    assert service.transport.wsdl_loads == 1
    # Another timeout is another client, but zeep's document cache spares the download.
    assert get_service(sandbox.wsdl_url, 30).transport.wsdl_loads == 0


def test_it_shares_one_service_between_threads(sandbox):
    clear_cache()
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
    assert get_service(sandbox.wsdl_url, 60).transport.wsdl_loads == 1


def test_clear_cache_drops_the_cached_wsdl_documents(sandbox):
    clear_cache()
    first = get_service(sandbox.wsdl_url, 60)
    assert first.transport.wsdl_loads == 1
    assert get_service(sandbox.wsdl_url, 30).transport.wsdl_loads == 0  # from the document cache

    clear_cache()
    again = get_service(sandbox.wsdl_url, 30)

    assert again is not first
    assert again.transport.wsdl_loads == 1  # downloaded again: nothing of the old cache is left
    assert again.transport.cache is not first.transport.cache


def test_the_document_cache_keeps_documents_by_url_until_they_expire():
    cache = DocumentCache()
    cache.add("https://example.test/wsdl", b"<definitions/>")

    assert cache.get("https://example.test/wsdl") == b"<definitions/>"
    assert cache.get("https://example.test/other") is None
    assert len(cache) == 1 and len(DocumentCache()) == 0  # every cache is its own

    stale = DocumentCache(timeout=-1)
    stale.add("https://example.test/wsdl", b"<definitions/>")
    assert stale.get("https://example.test/wsdl") is None
