"""HTTPS delivery to a real TLS receiver on 127.0.0.1: the pinned address, the host's name checked
against its certificate. The certificate is made here (a throwaway authority, `WEBHOOK_CA_BUNDLE`)."""

import datetime
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connections import lifecycle
from connections.webhooks import delivery, endpoints
from connections.webhooks.models import Attempt, Message

from .helpers import verify_both

pytestmark = pytest.mark.django_db


def self_signed(tmp_path, name="localhost"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture
def tls_receiver(tmp_path):
    cert_file, key_file = self_signed(tmp_path)
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            got.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert_file, got
    server.shutdown()
    server.server_close()


def test_https_delivery_checks_the_certificate_of_the_named_host(tls_receiver, settings):
    port, cert_file, got = tls_receiver
    settings.WEBHOOK_CA_BUNDLE = str(cert_file)
    endpoint, secret = endpoints.create(f"https://localhost:{port}/hook", ["company.created"], actor_name="test")
    lifecycle.create_company("Secure Ltd")
    assert delivery.deliver(Message.objects.get().pk) == Message.Status.DELIVERED
    [(headers, body)] = got
    assert headers["Host"] == f"localhost:{port}"

    class Received:  # the shape verify_both reads
        pass

    received = Received()
    received.headers, received.body = headers, body
    assert verify_both(secret, received)["eventType"] == "company.created"


def test_an_untrusted_certificate_is_a_failed_attempt(tls_receiver, settings):
    port, _, got = tls_receiver
    settings.WEBHOOK_RETRY_SCHEDULE = []  # certifi's authorities never signed the throwaway one
    endpoints.create(f"https://localhost:{port}/hook", ["company.created"], actor_name="test")
    lifecycle.create_company("Untrusted Ltd")
    assert delivery.deliver(Message.objects.get().pk) == Message.Status.FAILED
    assert Attempt.objects.get().error == "The endpoint's TLS certificate could not be verified."
    assert got == []
