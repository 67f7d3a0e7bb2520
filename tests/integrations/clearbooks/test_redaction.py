"""The API key never leaks: not in logs (ours or the libraries', at DEBUG), errors,
tracebacks or reprs, even when a server echoes it back.

Keys are secrets even here: never print them or put them in test ids.
"""

import logging
import pickle
import traceback

import pytest

from integrations.clearbooks import reads, retries, service
from integrations.clearbooks.credentials import validate_credentials
from integrations.clearbooks.errors import ClearBooksError
from integrations.clearbooks.reads import read_pages
from integrations.clearbooks.redaction import ApiKey, RedactApiKeys, guarded_logger
from integrations.clearbooks.service import clear_cache, get_service

from .reading import SMALL, fast, read_all

OUR_LOGGERS = (service.__name__, retries.__name__, reads.__name__)


def test_it_never_lets_the_api_key_out(sandbox, caplog, capsys):
    for name in (None, "zeep", "zeep.transports", "urllib3", "urllib3.connectionpool", "requests", *OUR_LOGGERS):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
    clear_cache()
    key = sandbox.make_key(**SMALL)
    revoked = sandbox.make_key(seed="leak", revoked=True)
    policy, _ = fast(attempts=2)
    raised = []

    validate_credentials(sandbox.wsdl_url, key)
    validate_credentials(sandbox.wsdl_url, revoked)
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
    assert key not in repr(get_service(sandbox.wsdl_url, 60))
    assert key not in repr(read_pages(sandbox.wsdl_url, key, "invoices"))


def test_an_api_key_is_masked_and_cannot_be_pickled():
    key = ApiKey("sbx-secret")

    assert repr(key) == str(key) == "ApiKey('[redacted]')" and f"{key}" == "ApiKey('[redacted]')"
    assert key.reveal() == "sbx-secret"
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize(
    ("message", "args", "expected"),
    [
        ("<cb:apiKey>s3cret</cb:apiKey>", (), "<cb:apiKey>[redacted]</cb:apiKey>"),
        ("<apiKey xmlns=''>%s</apiKey>", ("s3cret",), "<apiKey xmlns=''>[redacted]</apiKey>"),
        ('<authenticate apiKey="s3cret"/>', (), '<authenticate apiKey="[redacted]"/>'),
        ("nothing secret: %d pages", (3,), "nothing secret: 3 pages"),
    ],
    ids=["element", "element-with-args", "attribute", "no-key"],
)
def test_the_filter_blanks_keys_in_envelopes_whatever_their_shape(message, args, expected):
    record = logging.LogRecord("zeep.transports", logging.DEBUG, __file__, 1, message, args, None)

    assert RedactApiKeys().filter(record) is True
    assert record.getMessage() == expected


def test_every_logger_of_ours_and_of_the_libraries_carries_the_filter():
    for name in (*OUR_LOGGERS, "zeep", "zeep.transports", "requests", "urllib3", "urllib3.connectionpool"):
        assert any(isinstance(f, RedactApiKeys) for f in logging.getLogger(name).filters), name
    logger = guarded_logger(service.__name__)
    guarded_logger(service.__name__)
    assert sum(isinstance(f, RedactApiKeys) for f in logger.filters) == 1  # added once, however often asked
