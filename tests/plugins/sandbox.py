"""pytest fixtures: the Clear Books sandbox, a real SOAP server on 127.0.0.1.

`sandbox_server` (session) serves the sandbox from a background thread on a free port
and exports CLEARBOOKS_WSDL_URL and CLEARBOOKS_SANDBOX_URL to the environment, so
processes the tests start (qcluster workers, browsers' portal) talk to it too.

`sandbox` (per test) resets the sandbox (faults, revocations, call counts, changed
books), points settings.CLEARBOOKS_WSDL_URL at it, and yields a handle:

    key = sandbox.make_key(seed="acme", invoices=101, customers=0)
    sandbox.wsdl_url, sandbox.base_url, sandbox.soap_url, sandbox.control_url
    sandbox.counts(key)                      # {"customers": 0, "invoices": 101, ...}
    sandbox.fail_next("http500", count=2, key=key, operation="listInvoices", after=1)
    sandbox.configure(failure_rate=0.2, latency_ms=50, page_sizes={"listInvoices": 10})
    sandbox.revoke(key, after_calls=3); sandbox.touch(key, "customers", 5); sandbox.delete(key, "bills", 2)
    sandbox.books(key)                       # the Books object, for exact-record assertions
    sandbox.http                             # the same control API over HTTP (HttpControl)

Keys are secrets even here: never print them or put them in test ids.
"""

import os

import pytest

from integrations.clearbooks.sandbox.control import HttpControl, LocalControl
from integrations.clearbooks.sandbox.server import SandboxServer


class SandboxHandle(LocalControl):
    def __init__(self, server):
        super().__init__(server.state)
        self.server = server
        self.base_url = server.base_url
        self.wsdl_url = server.wsdl_url
        self.soap_url = server.soap_url
        self.control_url = server.control_url
        self.http = HttpControl(server.base_url)

    def __repr__(self):
        return f"<sandbox {self.base_url}>"


@pytest.fixture(scope="session")
def sandbox_server():
    server = SandboxServer(port=0).start()
    saved = {name: os.environ.get(name) for name in ("CLEARBOOKS_WSDL_URL", "CLEARBOOKS_SANDBOX_URL")}
    os.environ["CLEARBOOKS_WSDL_URL"] = server.wsdl_url
    os.environ["CLEARBOOKS_SANDBOX_URL"] = server.base_url
    yield server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()


@pytest.fixture
def sandbox(sandbox_server, settings):
    sandbox_server.state.reset()
    settings.CLEARBOOKS_WSDL_URL = sandbox_server.wsdl_url
    yield SandboxHandle(sandbox_server)
    sandbox_server.state.reset()
