"""Serving the sandbox on loopback: a threaded wsgiref server, in a thread or in the foreground."""

import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import CONTROL_PREFIX, make_app
from .state import SandboxState
from .wsdl import SOAP_PATH, WSDL_PATH


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        """No request log: the sandbox's output stays free of noise (keys never reach URLs anyway)."""


class SandboxServer:
    """One sandbox on 127.0.0.1; port 0 picks a free port. `state` is its SandboxState."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", state: SandboxState | None = None):
        self.state = state or SandboxState()
        self._httpd = make_server(
            host, port, make_app(self.state), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def wsdl_url(self) -> str:
        return self.base_url + WSDL_PATH

    @property
    def soap_url(self) -> str:
        return self.base_url + SOAP_PATH

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX

    def start(self) -> "SandboxServer":
        """Serve in a background thread (tests)."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="clearbooks-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self):
        """Serve in this thread until stop() is called from another (the management command)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
