"""pytest fixture: a real HTTP webhook receiver on 127.0.0.1 (a free port), in a background thread.

    receiver.url                         # http://127.0.0.1:PORT/hook
    receiver.answer(500, 500, 500)       # the next three requests get 500, then 200 again
    receiver.hang(seconds)               # the next request waits before answering (a slow receiver)
    receiver.down(); receiver.up()       # answer 503 to everything (a receiver that is down), or not
    receiver.received                    # [Received(headers, body, status)] in arrival order
    receiver.wait_for(n, timeout)        # until n requests answered 2xx arrived

It answers as a receiver would: reads the whole body, then the status it was told to.
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    headers: dict
    body: str
    status: int
    at: float

    @property
    def json(self):
        return json.loads(self.body)


class Receiver:
    def __init__(self):
        self.received: list[Received] = []
        self._answers: list[int] = []
        self._hang = 0.0
        self._down = False
        self.started = 0  # requests that arrived (answered or not yet)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with receiver._lock:
                    receiver.started += 1
                    status = 503 if receiver._down else receiver._answers.pop(0) if receiver._answers else 200
                    hang, receiver._hang = receiver._hang, 0.0
                if hang:
                    time.sleep(hang)
                with receiver._lock:
                    receiver.received.append(Received(dict(self.headers.items()), body, status, time.monotonic()))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if 200 <= status < 300 else f"receiver says {status}".encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (a timeout test) or died (a kill test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, *statuses):
        with self._lock:
            self._answers.extend(statuses)

    def down(self):
        with self._lock:
            self._down = True

    def up(self):
        with self._lock:
            self._down = False

    def hang(self, seconds):
        with self._lock:
            self._hang = seconds

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, count, timeout=30.0, event_type=None) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.delivered() if event_type is None or r.json["eventType"] == event_type]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                got = [(r.status, r.json.get("eventType")) for r in self.received]
                pytest.fail(f"Timed out after {timeout:.0f}s waiting for {count} deliveries; got {got}")
            time.sleep(0.1)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()
