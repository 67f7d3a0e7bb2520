"""Retries against the sandbox: what is tried again, how long it waits, when it gives up,
and what is never retried.

Keys are secrets even here: never print them or put them in test ids.
"""

import pytest

from integrations.clearbooks.errors import ClearBooksError
from integrations.clearbooks.reads import read_pages
from integrations.clearbooks.retries import RetryPolicy
from integrations.registry import ErrorKind

from .reading import SMALL, Sleeps, fast, flat, free_port, read_all, read_error


def test_it_never_retries_a_rejected_key(sandbox):
    policy, sleeps = fast()
    key = sandbox.make_key(seed="gone", revoked=True)

    error = read_error(sandbox, key, "customers", policy)

    assert error.kind == ErrorKind.AUTH
    assert error.message == "Clear Books rejected the API key: the company must relink."
    assert "Login Failed" in error.detail and "HTTP 500" in error.detail
    assert sleeps == []


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


def test_it_reports_nothing_listening_as_transient():
    policy, sleeps = fast(attempts=2)
    url = f"http://127.0.0.1:{free_port()}/api/accounting/wsdl/"

    with pytest.raises(ClearBooksError) as info:
        list(read_pages(url, "whatever", "invoices", policy=policy))

    assert info.value.kind == ErrorKind.TRANSIENT
    assert info.value.message == "We couldn't reach Clear Books after 2 tries (connection failed)."
    assert len(sleeps) == 1


def test_it_tells_the_caller_of_each_retry_before_waiting_and_when_it_went_through(sandbox):
    """The sync engine records these on the pull, so its page can say "Retrying invoices: attempt 3 of 4"."""
    policy, sleeps = fast(attempts=4)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="http500", count=2, key=key, operation="listInvoices")
    told = []

    def on_retry(notice):
        told.append((notice, len(sleeps)))  # how many waits had happened when it was told

    records = flat(read_all(sandbox, key, "invoices", policy, on_retry=on_retry))

    assert len(records) == 12
    (first, waited_first), (second, waited_second), (done, _) = told
    assert (first.attempt, first.attempts, waited_first) == (2, 4, 0)  # told before the wait
    assert (second.attempt, second.attempts, waited_second) == (3, 4, 1)
    assert first.reason == "Clear Books had a temporary problem (HTTP 500)."
    assert [first.delay, second.delay] == sleeps
    assert done is None  # the call went through: nothing is being retried any more


def test_a_failing_retry_report_never_fails_the_read(sandbox):
    policy, _ = fast(attempts=3)
    key = sandbox.make_key(**SMALL)
    sandbox.fail_next(kind="http503", count=1, key=key, operation="listPaymentMethods")

    def broken(notice):
        raise RuntimeError("the database is down")

    assert len(flat(read_all(sandbox, key, "paymentMethods", policy, on_retry=broken))) == 5
