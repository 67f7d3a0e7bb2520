"""The permission walk: every URL of the project, for every persona, against an explicit table.

The URL list comes from the resolver (through every include), so a new page without a
row in EXPECTATIONS fails `test_it_has_a_rule_for_every_url`. Only Django admin's own
URLs are left out: they have their own (superuser) rules.

Personas: anonymous (not logged in), outsider (logged in, no role), support, admin.
Expected outcomes: LOGIN (sent to the login page), a status code, or a set of codes
where the exact answer is the page's own business (a 302 back after an action, or 200
re-showing a form), as long as it is never a login redirect or a 403 when allowed.
"""

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from connections.models import Connection, PullOperation
from connections.webhooks import endpoints as webhook_endpoints
from connections.webhooks.events import emit as webhook_emit
from portal.api import keys
from tests import factory

ANON, OUTSIDER, SUPPORT, ADMIN = "anonymous", "outsider", "support", "admin"
PERSONAS = (ANON, OUTSIDER, SUPPORT, ADMIN)
LOGIN = "login page"
DONE = frozenset({200, 302})  # an allowed action: done and redirected back, or a form shown again
REFUSED_GET = frozenset({403, 405})  # an action URL never acts on GET: refused by role or by method


@dataclass(frozen=True)
class Rule:
    obj: str | None = None  # which object of the test world fills the URL's <pk>/<token>
    get: dict = field(default_factory=dict)
    post: dict | None = None  # None: not an action URL, POST is not walked
    data: object = None  # POST data, or a function of the world returning it


def read_page(obj=None):
    return Rule(obj, get={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 200, ADMIN: 200})


def admin_page(obj=None, data=None):
    """A page with a form only admins may use: Support gets 403 on GET and POST."""
    return Rule(
        obj,
        get={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 403, ADMIN: 200},
        post={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 403, ADMIN: DONE},
        data=data,
    )


def admin_action(obj, data=None):
    return Rule(
        obj,
        get={ANON: LOGIN, OUTSIDER: REFUSED_GET, SUPPORT: REFUSED_GET, ADMIN: 405},
        post={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 403, ADMIN: DONE},
        data=data,
    )


def safe_action(obj, data=None):
    """Refresh data, test a connection, cancel a pull, add a note: Support may."""
    return Rule(
        obj,
        get={ANON: LOGIN, OUTSIDER: REFUSED_GET, SUPPORT: 405, ADMIN: 405},
        post={ANON: LOGIN, OUTSIDER: 403, SUPPORT: DONE, ADMIN: DONE},
        data=data,
    )


def public_page(obj):
    return Rule(obj, get={ANON: 200, OUTSIDER: 200, SUPPORT: 200, ADMIN: 200})


def api_endpoint():
    """The REST API: a portal login is never an API key, so every persona gets 401 (tests/api walks keys)."""
    everyone = dict.fromkeys(PERSONAS, 401)
    return Rule(get=everyone, post=everyone)


API_ENDPOINTS = (
    "integration-list", "integration-detail", "profile-sync-settings", "company-list", "company-detail",
    "connection-list", "connection-detail", "connection-authorization", "record-list", "refresh-all",
    "refresh-data-type", "data-status", "pull-list", "pull-detail", "company-sync-settings", "apikey-list",
    "apikey-detail", "schema", "webhook-list", "webhook-detail", "webhook-secret", "webhook-test", "webhook-messages",
    "webhook-replay", "webhook-message-replay",
)  # fmt: skip


EXPECTATIONS = {
    # The shell: home only redirects (to the dashboard, which has its own rule).
    "home": Rule(get={ANON: LOGIN, OUTSIDER: 302, SUPPORT: 302, ADMIN: 302}),
    # The health check: public, 200 or 503 by the state of the database, broker and workers.
    "healthz": Rule(get={persona: frozenset({200, 503}) for persona in PERSONAS}),
    "login": Rule(get={ANON: 200, OUTSIDER: 302, SUPPORT: 302, ADMIN: 302}),
    "logout": Rule(
        get={ANON: LOGIN, OUTSIDER: 405, SUPPORT: 405, ADMIN: 405},
        post={ANON: LOGIN, OUTSIDER: LOGIN, SUPPORT: LOGIN, ADMIN: LOGIN},
    ),
    # Integrations
    "integrations:integration-list": read_page(),
    "integrations:integration-manage": Rule(
        "key",
        get={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 200, ADMIN: 200},
        post={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 403, ADMIN: DONE},
    ),
    "integrations:integration-toggle": admin_action("key", data={"enabled": "off"}),
    "integrations:activity": read_page(),
    # Companies and connections (admin changes, everyone reads)
    "connections:dashboard": read_page(),
    "connections:company-list": read_page(),
    "connections:company-create": admin_page(data={"name": "Walked In Ltd"}),
    "connections:company-detail": read_page("company"),
    "connections:company-edit": admin_page("company", data={"name": "Walked Ltd"}),
    "connections:company-delete": admin_page("company"),
    "connections:connection-create": admin_page("company", data=lambda world: {"integration": world["key"].pk}),
    "connections:connection-detail": read_page("connection"),
    "connections:connection-unlink": admin_action("connection"),
    "connections:connection-delete": admin_page("connection"),
    "connections:connection-new-link-url": admin_action("connection"),
    # The public Link pages: no login, the token is the key
    "connections:link": public_page("pending_token"),
    "connections:link-done": public_page("used_token"),
    # Support: read everything, and the safe actions
    "connections:connection-refresh": safe_action("connection", data={"data_type": "invoices"}),
    "connections:connection-test": safe_action("connection"),
    "connections:connection-note": safe_action("connection", data={"text": "Checked by the permission walk."}),
    "connections:pull-list": read_page(),
    "connections:company-pulls": read_page("company"),
    "connections:company-sync-settings": admin_page("company", data=lambda world: follow_the_portal()),
    "connections:pull-detail": read_page("pull"),
    "connections:pull-progress": read_page("pull"),
    "connections:pull-cancel": safe_action("active_pull"),
    "connections:record-list": read_page("connection"),
    "connections:record-detail": read_page("record"),
    # The REST API (keys only), its docs (a portal page) and the API keys page
    **{f"api:{name}": api_endpoint() for name in API_ENDPOINTS if name != "schema"},
    # The schema also serves portal users, so the docs page can load it.
    "api:schema": Rule(get={ANON: 401, OUTSIDER: 403, SUPPORT: 200, ADMIN: 200}),
    "api-unknown": Rule(get=dict.fromkeys(PERSONAS, 404), post=dict.fromkeys(PERSONAS, 404)),
    "api-docs": read_page(),
    "api-keys:apikey-list": Rule(  # Support sees the keys (never a key itself); only Admins create them
        get={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 200, ADMIN: 200},
        post={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 403, ADMIN: DONE},
        data={"name": "Walked key"},
    ),
    "api-keys:apikey-revoke": admin_action("apikey"),
    # Webhooks: Support reads endpoints and the delivery log; only Admins change them or see a secret
    "webhooks:endpoint-list": Rule(
        get={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 200, ADMIN: 200},
        post={ANON: LOGIN, OUTSIDER: 403, SUPPORT: 403, ADMIN: DONE},
        data={"url": "http://127.0.0.1:9/walked", "event_types": ["company.created"]},
    ),
    "webhooks:endpoint-detail": read_page("endpoint"),
    "webhooks:event-detail": read_page("event"),
    "webhooks:endpoint-toggle": admin_action("endpoint"),
    "webhooks:endpoint-rotate": admin_action("endpoint"),
    "webhooks:endpoint-test": admin_action("endpoint"),
    "webhooks:endpoint-delete": admin_page("endpoint"),
    "webhooks:endpoint-replay": admin_action("endpoint", data={"since": "2026-01-01T09:00"}),
    "webhooks:message-replay": admin_action("message"),
}


def follow_the_portal() -> dict:
    """A company's Sync settings form with every data type following the portal's."""
    from connections.company_sync_settings import portal_defaults

    count = len(portal_defaults())
    data = {"sync-TOTAL_FORMS": str(count), "sync-INITIAL_FORMS": str(count)}
    data.update({f"sync-{index}-frequency": "daily" for index in range(count)})
    return data


def project_urls():
    """[(name, URLPattern)] for every URL of the project except Django admin's; unnamed ones as '?route'."""
    found = []

    def walk(patterns, namespace, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if entry.namespace == "admin":
                    continue
                inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
                walk(entry.url_patterns, inner or namespace, route)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
                found.append((name or f"?{route}", entry))

    walk(get_resolver().url_patterns, "", "")
    return found


URLS = project_urls()
WALKED = [name for name, _ in URLS if name in EXPECTATIONS]


def test_it_has_a_rule_for_every_url():
    missing = sorted(name for name, _ in URLS if name not in EXPECTATIONS)
    assert not missing, f"URLs without a permission rule in EXPECTATIONS: {missing}"


def test_it_finds_the_urls_of_every_app():
    names = {name for name, _ in URLS}
    assert {"login", "integrations:integration-list", "connections:dashboard", "connections:link"} <= names
    assert not any(name.startswith("admin:") for name in names)


@pytest.fixture
def world(db, settings):
    """One of everything a URL can point at, plus the personas."""
    # Nothing listens on port 9: a view that reaches for Clear Books fails fast, on this machine.
    settings.CLEARBOOKS_WSDL_URL = "http://127.0.0.1:9/api/accounting/wsdl/"
    now = timezone.now()
    integration = factory.get_integration("jhch", enabled=True)
    company = factory.make_company("Walk Ltd")
    used_token, pending_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    connection = factory.make_connection(
        company,
        status=Connection.Status.LINKED,
        link_token=used_token,
        link_token_created_at=now - timedelta(hours=1),
        link_token_expires_at=now + timedelta(days=1),
        link_token_used_at=now,
    )
    pull = factory.make_pull(connection, "invoices")
    active_pull = factory.make_pull(connection, "customers", status=PullOperation.Status.QUEUED)
    record = factory.make_record(connection, "invoices", last_pull=pull)
    factory.make_data_status(connection, "invoices", current_status="Complete", latest_pull=pull)
    endpoint, _ = webhook_endpoints.create("http://127.0.0.1:9/hook", ["company.created"], actor_name="walk")
    event = webhook_emit("company.created", {"id": str(company.pk)}, company=company)
    factory.make_connection(
        factory.make_company("Pending Ltd"),
        status=Connection.Status.PENDING_AUTH,
        link_token=pending_token,
        link_token_created_at=now,
        link_token_expires_at=now + timedelta(days=1),
    )
    return {
        "key": integration,
        "company": company,
        "connection": connection,
        "pull": pull,
        "active_pull": active_pull,
        "record": record,
        "used_token": used_token,
        "pending_token": pending_token,
        "data_type": "invoices",
        "apikey": keys.create_key("walked")[0],
        "endpoint": endpoint,
        "event": event,
        "message": event.messages.get(),
        "users": {
            OUTSIDER: factory.make_user("olga"),
            SUPPORT: factory.make_support(),
            ADMIN: factory.make_admin(),
        },
    }


# The API's URL parameters, filled from the world whatever the rule's object.
API_PARAMS = {
    "company_id": lambda world: world["company"].pk,
    "connection_id": lambda world: world["connection"].pk,
    "dataset_id": lambda world: str(uuid.UUID(int=world["pull"].pk)),
    "platform_key": lambda world: world["key"].key,
    "api_key_id": lambda world: world["apikey"].pk,
    "webhook_id": lambda world: world["endpoint"].pk,
    "message_id": lambda world: world["message"].pk,
}


def url_for(name, pattern, rule, world):
    kwargs = {}
    for param in pattern.pattern.converters:
        if param in API_PARAMS:
            kwargs[param] = API_PARAMS[param](world)
        elif param == "data_type":
            kwargs[param] = world["data_type"]
        elif param == "key":
            kwargs[param] = world["key"].key
        elif rule.obj is not None:
            value = world[rule.obj]
            kwargs[param] = value if isinstance(value, str) else value.pk
        else:
            pytest.fail(f"{name}: no object in its rule to fill <{param}>")
    return reverse(name, kwargs=kwargs)


ADMIN_LOGIN = "Django admin's login page"


def outcome(response):
    if response.status_code in (301, 302) and urlsplit(response["Location"]).path == reverse("login"):
        return LOGIN
    if response.status_code in (301, 302) and urlsplit(response["Location"]).path == reverse("admin:login"):
        return ADMIN_LOGIN
    return response.status_code


def matches(actual, expected):
    if isinstance(expected, frozenset):
        return actual in expected
    return actual == expected


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", WALKED)
def test_it_answers_each_persona_as_the_table_says(name, persona, world, client):
    rule = EXPECTATIONS[name]
    pattern = dict(URLS)[name]
    url = url_for(name, pattern, rule, world)
    if persona != ANON:
        client.force_login(world["users"][persona])
    got = outcome(client.get(url))
    assert matches(got, rule.get[persona]), f"GET {url} as {persona}: {got}, expected {rule.get[persona]}"
    if rule.post is not None:
        data = rule.data(world) if callable(rule.data) else (rule.data or {})
        got = outcome(client.post(url, data))
        assert matches(got, rule.post[persona]), f"POST {url} as {persona}: {got}, expected {rule.post[persona]}"


def admin_urls():
    """Every page of Django admin but its login and logout, from the resolver: those without arguments,
    and each object page filled with a made-up id (a non-staff caller never gets as far as the lookup)."""
    (admin,) = [entry for entry in get_resolver().url_patterns if getattr(entry, "namespace", None) == "admin"]
    found = []

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and entry.name not in (None, "login", "logout"):
                params = entry.pattern.regex.groupindex
                if not params:
                    found.append(reverse(f"admin:{entry.name}"))
                elif set(params) == {"object_id"}:
                    found.append(reverse(f"admin:{entry.name}", kwargs={"object_id": "1"}))

    walk(admin.url_patterns, "admin/")
    return found


@pytest.mark.parametrize("persona", PERSONAS)
def test_django_admin_is_for_superusers_only(persona, world, client):
    """The portal's roles, Admin included, work in the portal: every Django admin page sends them to its login."""
    if persona != ANON:
        client.force_login(world["users"][persona])
    urls = admin_urls()
    assert len(urls) > 20 and "/admin/" in urls
    for url in urls:
        response = client.get(url)
        assert outcome(response) in (LOGIN, ADMIN_LOGIN), f"GET {url} as {persona}: {outcome(response)}"


def test_it_refuses_an_outsider_everything_but_login_logout_and_link_pages():
    """The table itself: a logged-in user without a role reads and changes nothing."""
    open_to_all = {"login", "logout", "home", "healthz", "connections:link", "connections:link-done", "api-unknown"}
    open_to_all |= {name for name in EXPECTATIONS if name.startswith("api:")}  # 401: a login is no key
    for name, rule in EXPECTATIONS.items():
        if name in open_to_all:
            continue
        assert rule.get[OUTSIDER] in (403, REFUSED_GET), name
        assert rule.post is None or rule.post[OUTSIDER] == 403, name


def test_it_sends_anonymous_users_to_login_except_on_public_pages():
    public = {"login", "healthz", "connections:link", "connections:link-done"}
    for name, rule in EXPECTATIONS.items():
        if name.startswith("api:") or name == "api-unknown":
            assert rule.get[ANON] in (401, 404), name  # the API answers for itself, never with the login page
            continue
        assert (rule.get[ANON] == LOGIN) == (name not in public), name
