"""The sandbox's WSDL and the record layouts it promises.

Written from the documented facts only (docs/clearbooks.md §3, §4 and §6): service
`AccountingService`, port `AccountingPort`, rpc/literal over SOAP 1.1, the
accounting target namespace, SOAPAction = namespace + '#' + operation, and an
`authenticate` header holding an `apiKey` child element. Field names are the ones
on the wire in the captures.

`TYPES` is the one description of every record: the WSDL is rendered from it and
so is every response (render.py), so the two can never disagree on which field is
an XML attribute and which a child element (docs/clearbooks.md §9, quirk 1).
"""

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

TNS = "https://secure.clearbooks.co.uk/api/accounting/soap/"
LEGACY_TNS = "https://secure.clearbooks.co.uk/api/soap/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_PATH = "/api/accounting/soap/"
WSDL_PATH = "/api/accounting/wsdl/"

S, I, D, B = "xsd:string", "xsd:int", "xsd:decimal", "xsd:boolean"  # noqa: E741


@dataclass(frozen=True)
class RecordType:
    """One complex type: scalars as attributes, scalars as elements, then nested children.

    `children` are (name, type name, kind) with kind "one" (a nested record, may be
    absent), or "many" (a wrapper element holding qualified records of that type).
    """

    attrs: tuple = ()
    elems: tuple = ()
    children: tuple = ()
    tag: str = ""  # the qualified element name of one record inside its wrapper

    @property
    def field_names(self):
        return [n for n, _ in self.attrs] + [n for n, _ in self.elems]


TYPES = {
    # Current DOCS layout: these Entity fields are attributes, the rest elements.
    "Entity": RecordType(
        attrs=(
            ("id", I),
            ("country", S),
            ("building", S),
            ("address2", S),
            ("phone2", S),
            ("fax", S),
            ("website", S),
            ("date_modified", S),
            ("external_id", S),
            ("vat_number", S),
            ("company_number", S),
            ("statement_url", S),
        ),
        elems=(
            ("company_name", S),
            ("contact_name", S),
            ("address1", S),
            ("town", S),
            ("county", S),
            ("postcode", S),
            ("email", S),
            ("phone1", S),
        ),
        children=(
            ("supplier", "EntityExtra", "one"),
            ("customer", "EntityExtra", "one"),
            ("bankAccount", "EntityBankAccount", "one"),
        ),
        tag="Entity",
    ),
    "EntityExtra": RecordType(
        attrs=(("default_account_code", I), ("default_vat_rate", S), ("default_credit_terms", I)),
    ),
    "EntityBankAccount": RecordType(
        elems=(("bankName", S), ("name", S), ("sortcode", S), ("accountNumber", S)),
    ),
    # 2015 capture layout: every scalar an attribute, `description` an element.
    "Invoice": RecordType(
        attrs=(
            ("invoice_id", I),
            ("invoice_prefix", S),
            ("invoiceNumber", S),
            ("entityId", I),
            ("reference", S),
            ("dateCreated", S),
            ("dateDue", S),
            ("dateAccrual", S),
            ("creditTerms", I),
            ("bankPaymentId", I),
            ("project", I),
            ("external_id", S),
            ("status", S),
            ("statementPage", S),
            ("pdfUrl", S),
            ("themeId", I),
            ("type", S),
            ("vatTreatment", S),
            ("multicurrency", I),
            ("fxrate", D),
            ("gross", D),
            ("net", D),
            ("vat", D),
            ("paid", D),
            ("balance", D),
            ("foreignCurrencyBalance", D),
        ),
        children=(("items", "Item", "many"),),
        elems=(("description", S),),
        tag="Invoice",
    ),
    "Item": RecordType(
        attrs=(
            ("unitPrice", D),
            ("vat", D),
            ("quantity", D),
            ("type", I),
            ("vatRate", S),
            ("project", I),
        ),
        elems=(("description", S),),
        tag="Item",
    ),
    "AccountCode": RecordType(
        attrs=(
            ("id", I),
            ("account_name", S),
            ("group_name", S),
            ("default_vat_rate", S),
            ("show_sales", B),
            ("show_purchases", B),
            ("customAccountCode", S),
            ("hidden", B),
        ),
        tag="AccountCode",
    ),
    "Project": RecordType(
        attrs=(("id", I), ("description", S)),
        elems=(("projectName", S), ("status", S)),
        tag="Project",
    ),
    "BankAccountListItem": RecordType(
        attrs=(("last_date", S),),
        elems=(
            ("id", I),
            ("bank_name", S),
            ("account_type", I),
            ("balance", D),
            ("currency", I),
            ("gl_account_code", I),
            ("total_mc", D),
        ),
        tag="BankAccountListItem",
    ),
    "PaymentMethod": RecordType(
        elems=(("id", I), ("name", S), ("isClosed", B)),
        tag="PaymentMethod",
    ),
    "Currency": RecordType(
        elems=(("id", I), ("name", S), ("code", S), ("symbol", S)),
        tag="Currency",
    ),
}


@dataclass(frozen=True)
class Operation:
    name: str
    params: tuple = ()  # (part name, xsd type)
    result: str = ""  # the response part's name (wrapper on the wire)
    result_type: str = ""  # tns type of that part
    pages: bool = False


OPERATIONS = {
    op.name: op
    for op in (
        Operation("listEntities", (("query", "tns:EntityQuery"),), "entities", "tns:EntityArray", True),
        # `createInvoicesReturn` (sic) is the wrapper name captured on the wire.
        Operation("listInvoices", (("query", "tns:InvoiceQuery"),), "createInvoicesReturn", "tns:InvoiceArray", True),
        Operation("listAccountCodes", (), "accountCodes", "tns:AccountCodeArray"),
        Operation("listBankAccounts", (), "return", "tns:ListBankAccountsReturn"),
        Operation("listProjects", (("offset", I),), "projects", "tns:ProjectArray", True),
        Operation("listPaymentMethods", (), "paymentMethods", "tns:PaymentMethodArray"),
        Operation("listCurrencies", (), "currencies", "tns:CurrencyArray"),
    )
}

ARRAYS = {
    "EntityArray": "Entity",
    "InvoiceArray": "Invoice",
    "ItemArray": "Item",
    "AccountCodeArray": "AccountCode",
    "ProjectArray": "Project",
    "BankAccountListItemArray": "BankAccountListItem",
    "PaymentMethodArray": "PaymentMethod",
    "CurrencyArray": "Currency",
}


def _complex_type(name, rt):
    out = [f'<xsd:complexType name="{name}">']
    if rt.elems or rt.children:
        out.append("<xsd:sequence>")
        for n, t, kind in element_order(name):
            xsd_type = t if kind == "elem" else (f"tns:{t}Array" if kind == "many" else f"tns:{t}")
            out.append(f'<xsd:element name="{n}" type="{xsd_type}" minOccurs="0"/>')
        out.append("</xsd:sequence>")
    for n, t in rt.attrs:
        out.append(f'<xsd:attribute name="{n}" type="{t}"/>')
    out.append("</xsd:complexType>")
    return "".join(out)


def element_order(name):
    """The element (non-attribute) field order of a record type, as the schema declares it."""
    rt = TYPES[name]
    children = [(n, t, k) for n, t, k in rt.children]
    elems = [(n, t, "elem") for n, t in rt.elems]
    return children + elems if name == "Invoice" else elems + children


def _schema():
    parts = [f'<xsd:schema targetNamespace="{TNS}" elementFormDefault="unqualified">']
    for name, rt in TYPES.items():
        parts.append(_complex_type(name, rt))
    for name, item in ARRAYS.items():
        # Records inside a wrapper are qualified (`ns1:Entity`), as in every capture.
        parts.append(
            f'<xsd:complexType name="{name}"><xsd:sequence>'
            f'<xsd:element name="{item}" type="tns:{item}" form="qualified" minOccurs="0" maxOccurs="unbounded"/>'
            "</xsd:sequence></xsd:complexType>"
        )
    parts.append(
        '<xsd:complexType name="ListBankAccountsReturn"><xsd:sequence>'
        '<xsd:element name="bankAccounts" type="tns:BankAccountListItemArray" minOccurs="0"/>'
        '<xsd:element name="total" type="xsd:decimal" minOccurs="0"/>'
        "</xsd:sequence></xsd:complexType>"
    )
    parts.append(
        '<xsd:complexType name="IntArray"><xsd:sequence>'
        '<xsd:element name="int" type="xsd:int" minOccurs="0" maxOccurs="unbounded"/>'
        "</xsd:sequence></xsd:complexType>"
    )
    # Query scalars are attributes and id arrays child elements (DOCS list-entities, GEM client.rb).
    parts.append(
        '<xsd:complexType name="EntityQuery"><xsd:sequence>'
        '<xsd:element name="id" type="tns:IntArray" minOccurs="0"/>'
        "</xsd:sequence>"
        '<xsd:attribute name="companyName" type="xsd:string"/>'
        '<xsd:attribute name="type" type="xsd:string"/>'
        '<xsd:attribute name="offset" type="xsd:int"/>'
        '<xsd:attribute name="modifiedSince" type="xsd:string"/>'
        "</xsd:complexType>"
    )
    parts.append(
        '<xsd:complexType name="InvoiceQuery"><xsd:sequence>'
        '<xsd:element name="id" type="tns:IntArray" minOccurs="0"/>'
        '<xsd:element name="entityId" type="tns:IntArray" minOccurs="0"/>'
        "</xsd:sequence>"
        '<xsd:attribute name="ledger" type="xsd:string"/>'
        '<xsd:attribute name="status" type="xsd:string"/>'
        '<xsd:attribute name="offset" type="xsd:int"/>'
        '<xsd:attribute name="modifiedSince" type="xsd:string"/>'
        "</xsd:complexType>"
    )
    parts.append(
        '<xsd:element name="authenticate"><xsd:complexType><xsd:sequence>'
        '<xsd:element name="apiKey" type="xsd:string"/>'
        "</xsd:sequence></xsd:complexType></xsd:element>"
    )
    parts.append("</xsd:schema>")
    return "".join(parts)


def render_wsdl(soap_address: str) -> str:
    """The WSDL document, with the port's address pointing at `soap_address`."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<definitions name="AccountingService" targetNamespace="{TNS}" xmlns:tns="{TNS}" '
        'xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">',
        f"<types>{_schema()}</types>",
        '<message name="authenticate"><part name="authenticate" element="tns:authenticate"/></message>',
    ]
    for op in OPERATIONS.values():
        params = "".join(f'<part name="{n}" type="{t}"/>' for n, t in op.params)
        out.append(f'<message name="{op.name}Request">{params}</message>')
        out.append(f'<message name="{op.name}Response"><part name="{op.result}" type="{op.result_type}"/></message>')
    out.append('<portType name="AccountingPortType">')
    for op in OPERATIONS.values():
        out.append(
            f'<operation name="{op.name}"><input message="tns:{op.name}Request"/>'
            f'<output message="tns:{op.name}Response"/></operation>'
        )
    out.append("</portType>")
    out.append(
        '<binding name="AccountingBinding" type="tns:AccountingPortType">'
        '<soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>'
    )
    for op in OPERATIONS.values():
        out.append(
            f'<operation name="{op.name}"><soap:operation soapAction="{TNS}#{op.name}" style="rpc"/>'
            '<input><soap:header message="tns:authenticate" part="authenticate" use="literal"/>'
            f'<soap:body use="literal" namespace="{TNS}"/></input>'
            f'<output><soap:body use="literal" namespace="{TNS}"/></output></operation>'
        )
    out.append("</binding>")
    out.append(
        '<service name="AccountingService"><port name="AccountingPort" binding="tns:AccountingBinding">'
        f"<soap:address location={quoteattr(soap_address)}/></port></service>"
    )
    out.append("</definitions>")
    return "\n".join(out)
