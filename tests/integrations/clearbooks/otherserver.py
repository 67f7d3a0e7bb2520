"""Another server of the same protocol, for client tests: a hand-written WSDL on its own port
and path, whose endpoint relays envelopes to the sandbox's SOAP endpoint.

The WSDL is written here from the documented facts only (docs/clearbooks.md §3, §4 and §6), differently
from the sandbox's: the legacy namespace, `wsdl:`/`s:`/`acc:` prefixes, other message names,
untyped responses and no soap:header in the binding. A client that works with both depends
on nothing but the documented operation, part and field names.

`ignore_offset=True` makes the relay send every page request with offset 0, like a server
that ignores paging.
"""

import re
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
from lxml import etree

NS = "https://secure.clearbooks.co.uk/api/soap/"  # the legacy namespace (docs/clearbooks.md §3)
WSDL_PATH = "/other/v2/Accounting.wsdl"
ENDPOINT_PATH = "/other/v2/endpoint"

# operation: (input message name, parts as (name, type))
OPERATIONS = {
    "listEntities": ("EntitiesIn", [("query", "acc:EntityQuery")]),
    "listInvoices": ("InvoicesIn", [("query", "acc:InvoiceQuery")]),
    "listProjects": ("ProjectsIn", [("offset", "xs:int")]),
    "listAccountCodes": ("NoParts", []),
    "listBankAccounts": ("NoParts", []),
    "listPaymentMethods": ("NoParts", []),
    "listCurrencies": ("NoParts", []),
}


def render_wsdl(address: str) -> str:
    messages = dict(OPERATIONS.values())
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<wsdl:definitions name="Accounting" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
        'xmlns:s="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:acc="{NS}" targetNamespace="{NS}">',
        f'<wsdl:types><xs:schema targetNamespace="{NS}">',
        '<xs:complexType name="EntityQuery"><xs:attribute name="type" type="xs:string"/>'
        '<xs:attribute name="offset" type="xs:int"/><xs:attribute name="modifiedSince" type="xs:string"/>'
        "</xs:complexType>",
        '<xs:complexType name="InvoiceQuery"><xs:attribute name="ledger" type="xs:string"/>'
        '<xs:attribute name="status" type="xs:string"/><xs:attribute name="offset" type="xs:int"/>'
        "</xs:complexType>",
        "</xs:schema></wsdl:types>",
        '<wsdl:message name="AnyOut"><wsdl:part name="result" type="xs:anyType"/></wsdl:message>',
    ]
    for name, parts in messages.items():
        out.append(f'<wsdl:message name="{name}">')
        out.extend(f'<wsdl:part name="{part}" type="{xsd}"/>' for part, xsd in parts)
        out.append("</wsdl:message>")
    out.append('<wsdl:portType name="Port">')
    for op, (message, _) in OPERATIONS.items():
        out.append(
            f'<wsdl:operation name="{op}"><wsdl:input message="acc:{message}"/>'
            '<wsdl:output message="acc:AnyOut"/></wsdl:operation>'
        )
    out.append('</wsdl:portType><wsdl:binding name="Bind" type="acc:Port">')
    out.append('<s:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>')
    body = f'<s:body use="literal" namespace="{NS}"/>'
    for op in OPERATIONS:
        out.append(
            f'<wsdl:operation name="{op}"><s:operation soapAction="{NS}#{op}"/>'
            f"<wsdl:input>{body}</wsdl:input><wsdl:output>{body}</wsdl:output></wsdl:operation>"
        )
    out.append("</wsdl:binding>")
    out.append(
        '<wsdl:service name="AccountingService"><wsdl:port name="AccountingPort" binding="acc:Bind">'
        f'<s:address location="{address}"/></wsdl:port></wsdl:service></wsdl:definitions>'
    )
    return "\n".join(out)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class OtherServer:
    def __init__(self, upstream_soap_url: str, ignore_offset: bool = False):
        self.upstream = upstream_soap_url
        self.ignore_offset = ignore_offset
        self.namespace = NS
        self.namespaces = set()  # namespaces of the operation and authenticate elements received
        self.wsdl_gets = 0
        self._httpd = make_server("127.0.0.1", 0, self._app, server_class=_Server, handler_class=_Quiet)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.wsdl_url = self.base_url + WSDL_PATH

    def __enter__(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] == "GET" and path == WSDL_PATH:
            self.wsdl_gets += 1
            body = render_wsdl(self.base_url + ENDPOINT_PATH).encode()
            start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
            return [body]
        if environ["REQUEST_METHOD"] != "POST" or path != ENDPOINT_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found"]
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self._note_namespaces(data)
        if self.ignore_offset:
            data = re.sub(rb'offset="\d+"', b'offset="0"', data)
            data = re.sub(rb"<offset>\d+</offset>", b"<offset>0</offset>", data)
        headers = {
            "Content-Type": environ.get("CONTENT_TYPE", "text/xml"),
            "SOAPAction": environ.get("HTTP_SOAPACTION", ""),
        }
        reply = requests.post(self.upstream, data=data, headers=headers, timeout=30)
        start_response(
            f"{reply.status_code} {reply.reason}",
            [
                ("Content-Type", reply.headers.get("Content-Type", "text/xml")),
                ("Content-Length", str(len(reply.content))),
            ],
        )
        return [reply.content]

    def _note_namespaces(self, data):
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        for element in root.iter():
            if isinstance(element.tag, str) and etree.QName(element).localname in ("authenticate",):
                self.namespaces.add(etree.QName(element).namespace)
        body = next(el for el in root if etree.QName(el).localname == "Body")
        self.namespaces.add(etree.QName(body[0]).namespace)
