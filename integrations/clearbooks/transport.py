"""HTTP for the Clear Books client: every body streamed with a size cap and a deadline.

zeep reads the WSDL and the schemas it imports through `CappedTransport.load` (zeep's
public extension point for fetching documents), which keeps them in a `DocumentCache`.
Requests are posted by `CappedTransport.post`, and their answers come back as bytes
(`Reply`) for our own parser: zeep never sees them. Nothing here logs a body, since
request bodies hold the API key.
"""

from __future__ import annotations

import http.cookiejar
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import requests
from zeep.cache import Base as ZeepCache
from zeep.transports import Transport

MAX_RESPONSE_BYTES = 50 * 1024 * 1024  # no answer may exhaust memory; the largest real page is far smaller
MAX_WSDL_BYTES = 10 * 1024 * 1024
CONNECT_TIMEOUT = 10
CHUNK_BYTES = 256 * 1024
USER_AGENT = "IntegrationPortal-ClearBooks/1.0"


class TooLarge(Exception):
    """An answer passed its size cap; reading stopped there."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict
    content: bytes


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    # One session serves every company: a cookie set for one must never reach another.
    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


def new_session(url: str) -> requests.Session:
    """A session for `url` that keeps no cookies and reads the environment once, not per request."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.cookies.set_policy(_NoCookies())
    # With trust_env on, requests re-reads the proxy variables, no_proxy and ~/.netrc on
    # every call; the proxies (see CappedTransport.use_proxies_for) and the CA bundle are
    # read once instead.
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(url)
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return session


class DocumentCache(ZeepCache):
    """WSDL and XSD documents by URL, for an hour: a second Service for the same WSDL (another
    timeout) parses it without downloading it again. One instance per process, replaced as a
    whole to forget everything (service.clear_cache); zeep's own InMemoryCache keeps one
    dictionary for all its instances, which could not be dropped that way."""

    def __init__(self, timeout: float = 3600):
        self.timeout = timedelta(seconds=timeout)
        self._documents: dict[str, tuple[datetime, bytes]] = {}
        self._lock = threading.Lock()

    def add(self, url, content):
        with self._lock:
            self._documents[url] = (datetime.now(UTC), bytes(content))

    def get(self, url):
        with self._lock:
            stored = self._documents.get(url)
        if stored is None or datetime.now(UTC) - stored[0] > self.timeout:
            return None
        return stored[1]

    def __len__(self):
        return len(self._documents)


class CappedTransport(Transport):
    """zeep's transport, but every body is streamed and capped, with a total deadline,
    and nothing is logged (zeep's own post() logs whole envelopes at DEBUG)."""

    def __init__(self, *, timeout: float, max_bytes: int, **kwargs):
        super().__init__(timeout=timeout, operation_timeout=timeout, **kwargs)
        self.max_bytes = max_bytes
        self.wsdl_loads = 0  # how many WSDL/XSD documents were fetched (tests check it stays at 1)
        self._prepared_requests: dict[tuple, requests.PreparedRequest] = {}

    def use_proxies_for(self, address: str):
        """Take the proxies the environment names for the service's address (once)."""
        self.session.proxies = requests.utils.get_environ_proxies(address)

    def load(self, url):
        """A WSDL or XSD document zeep asks for: from the cache, else fetched with a cap."""
        if urlparse(url).scheme not in ("http", "https", "file"):
            return super().load(url)  # a local path named by the deployment: zeep reads the file
        cached = self.cache.get(url) if self.cache is not None else None
        if cached is not None:
            return cached
        self.wsdl_loads += 1
        deadline = time.monotonic() + CONNECT_TIMEOUT + self.load_timeout
        response = self.session.get(url, timeout=self._timeouts(), stream=True)
        with response:
            response.raise_for_status()
            content = self._read(response, MAX_WSDL_BYTES, deadline)
        if self.cache is not None:
            self.cache.add(url, content)
        return content

    def post(self, address, message, headers) -> Reply:
        deadline = time.monotonic() + CONNECT_TIMEOUT + self.operation_timeout
        if self.session.trust_env:  # the environment may change between calls: let requests read it each time
            response = self.session.post(
                address, data=message, headers=headers, timeout=self._timeouts(), stream=True, allow_redirects=False
            )
        else:
            response = self.session.send(
                self._prepared(address, message, headers),
                timeout=self._timeouts(),
                stream=True,
                allow_redirects=False,
                proxies=self.session.proxies,
                verify=self.session.verify,
                cert=self.session.cert,
            )
        with response:
            content = self._read(response, self.max_bytes, deadline)
            return Reply(response.status_code, dict(response.headers), content)

    def _read(self, response, limit: int, deadline: float) -> bytes:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            raise TooLarge(f"Content-Length {length} is over the {limit}-byte limit")
        chunks, size = [], 0
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the answer passed the {limit}-byte limit")
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(f"the answer took longer than {self.load_timeout}s to arrive")
            chunks.append(chunk)
        return b"".join(chunks)

    def _prepared(self, address, message: bytes, headers: dict) -> requests.PreparedRequest:
        # requests prepares every request from scratch (URL parsing, session headers, cookies);
        # a read posts to one address with the same headers page after page, so the prepared
        # request is kept per address and headers and only its body changes.
        shape = (address, tuple(headers.items()))
        prepared = self._prepared_requests.get(shape)
        if prepared is None:
            prepared = self.session.prepare_request(requests.Request("POST", address, headers=headers, data=b"-"))
            if len(self._prepared_requests) >= 256:
                self._prepared_requests.clear()
            self._prepared_requests[shape] = prepared
        prepared = prepared.copy()
        prepared.body = message
        prepared.headers["Content-Length"] = str(len(message))
        return prepared

    def _timeouts(self):
        return (min(CONNECT_TIMEOUT, self.operation_timeout), self.operation_timeout)
