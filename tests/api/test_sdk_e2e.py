"""The whole life of a connection, driven by Codat's own Python SDK (`codat-platform`, pinned).

A live server on a free loopback port, the Clear Books sandbox and a real qcluster worker.
Only the base URL and the key differ from code written against Codat: the key is created
in the portal (the API keys page), everything else goes through the SDK, and the records
(our extension) through plain HTTP.
"""

import base64
import re

import pytest
import requests
from codat_platform import CodatPlatform
from codat_platform.models import errors, shared
from codat_platform.utils import BackoffStrategy, RetryConfig

from connections.models import Connection, ConnectionEvent
from connections.sync import effective
from integrations.models import AuditEvent, SyncSetting
from tests import factory
from tests.plugins.worker import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ENDED = {"Complete", "FetchError", "AuthError", "InternalError", "NotSupported", "Cancelled", "RateLimitError"}


def key_from_the_portal(base_url) -> str:
    """Log in as an Admin and create a key on the API keys page, as a person would; the page shows it once."""
    factory.make_admin()
    browser = requests.Session()
    login = browser.get(f"{base_url}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    browser.post(
        f"{base_url}/accounts/login/",
        {"username": "alice", "password": factory.PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=10,
    ).raise_for_status()
    page = browser.get(f"{base_url}/settings/api-keys/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    created = browser.post(
        f"{base_url}/settings/api-keys/",
        {"name": "sdk e2e", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/settings/api-keys/"},
        timeout=10,
    )
    created.raise_for_status()
    return re.search(r'id="new-api-key">([^<]+)<', created.text).group(1)


def test_the_life_of_a_connection_through_codats_sdk(live_server, sandbox, start_worker):
    factory.get_integration("jhch", enabled=True)
    books_key = sandbox.make_key(seed="sdk-e2e", invoices=30, customers=12, suppliers=5, bills=6)
    worker = start_worker()
    key = key_from_the_portal(live_server.url)
    auth = "Basic " + base64.b64encode(key.encode()).decode()
    no_retries = RetryConfig("none", BackoffStrategy(1, 1, 1, 1), False)

    with CodatPlatform(
        security=shared.Security(auth_header=auth),
        server_url=f"{live_server.url}/api",
        retry_config=no_retries,
        timeout_ms=30000,
    ) as codat:
        # Integrations: find Clear Books.
        integrations = codat.integrations.list(request={"query": "sourceType=Accounting"})
        clear_books = next(i for i in integrations.results if i.name == "Clear Books")
        assert clear_books.key == "jhch" and clear_books.enabled
        assert codat.integrations.get(request={"platform_key": "jhch"}).name == "Clear Books"

        # A company and its connection.
        company = codat.companies.create(
            request={"name": "SDK Books Ltd", "description": "made by the SDK", "tags": {"region": "uk"}}
        )
        assert codat.companies.get(request={"company_id": company.id}).name == "SDK Books Ltd"
        assert company.tags == {"region": "uk"}
        codat.companies.update(
            request={"company_id": company.id, "company_update_request": {"tags": {"region": "uk", "team": "sdk"}}}
        )
        tagged = codat.companies.list(request={"tags": "region=uk && team~sd"})
        assert [c.id for c in tagged.results] == [company.id] and tagged.results[0].tags["team"] == "sdk"
        connection = codat.connections.create(
            request={"company_id": company.id, "request_body": {"platform_key": "jhch"}}
        )
        assert connection.status == "PendingAuth" and "/link/" in connection.link_url

        # A wrong key is refused and nothing is stored; the sandbox's key links the books.
        with pytest.raises(errors.CodatPlatformError) as refused:
            codat.connections.update_authorization(
                request={"company_id": company.id, "connection_id": connection.id, "request_body": {"apiKey": "wrong"}}
            )
        assert refused.value.status_code == 400
        stored = Connection.objects.get(pk=connection.id)
        assert stored.status == "PendingAuth" and not stored.has_credentials
        linked = codat.connections.update_authorization(
            request={"company_id": company.id, "connection_id": connection.id, "request_body": {"apiKey": books_key}}
        )
        assert linked.status == "Linked"

        # Refresh all data and poll the pull operations until every one has ended.
        codat.refresh_data.all(request={"company_id": company.id})

        def all_complete():
            page = codat.refresh_data.list_pull_operations(request={"company_id": company.id, "page_size": 100})
            pulls = page.results or []
            return pulls if pulls and all(p.status in ENDED for p in pulls) else None

        pulls = wait_for(all_complete, timeout=90, interval=0.5, message="pull operations", worker=worker)
        for pull in pulls:
            assert pull.status == "Complete", (pull.data_type, pull.error_message, pull.status_description)
            assert pull.progress == 100 and pull.is_completed and not pull.is_errored
        one = codat.refresh_data.get_pull_operation(request={"company_id": company.id, "dataset_id": pulls[0].id})
        assert one.id == pulls[0].id

        statuses = codat.refresh_data.get(request={"company_id": company.id})
        assert statuses.invoices.current_status == "Complete"

        # Our extension, with plain HTTP: the synced invoices, then only what changed since.
        records_url = f"{live_server.url}/api/companies/{company.id}/connections/{connection.id}/data/invoices"
        page = requests.get(records_url, headers={"Authorization": auth}, params={"pageSize": 500}, timeout=10).json()
        assert page["totalResults"] == sandbox.counts(books_key)["invoices"] == 30
        later = requests.get(
            records_url, headers={"Authorization": auth}, params={"modifiedDate": "2999-01-01T00:00:00Z"}, timeout=10
        ).json()
        assert later["totalResults"] == 0

        # Sync settings: invoices hourly and not fetched on first link.
        current = codat.settings.get_sync_settings()
        codat.settings.update_sync_settings(
            request={
                "client_id": current.client_id,
                "settings": [
                    {"data_type": "invoices", "fetch_on_first_link": False, "sync_schedule": 1, "sync_order": 0}
                ],  # fmt: skip
                "overrides_defaults": True,
            }
        )
        invoices = SyncSetting.objects.get(integration__key="jhch", data_type="invoices")
        assert (invoices.fetch_on_first_link, invoices.frequency) == (False, "hourly")

        # The company's own: bills weekly, in force for its connection; the portal's stay as they are.
        codat.companies.set_company_sync_settings(
            request={
                "company_id": company.id,
                "request_body": {
                    "company_id": company.id,
                    "settings": [
                        {"data_type": "bills", "fetch_on_first_link": True, "sync_schedule": 168, "sync_order": 0}
                    ],
                    "overrides_defaults": True,
                },
            }
        )
        own = codat.companies.get_company_sync_settings(request={"company_id": company.id})
        assert own.overrides_defaults and own.company_id == company.id
        schedules = {s.data_type: s.sync_schedule for s in own.settings}
        assert (schedules["bills"], schedules["invoices"]) == (168, 1)  # its own, and the portal's
        assert effective.for_connection(Connection.objects.get(pk=connection.id))["bills"].frequency == "weekly"
        assert SyncSetting.objects.get(integration__key="jhch", data_type="bills").frequency != "weekly"

        # Unlink, then delete.
        unlinked = codat.connections.unlink(
            request={
                "company_id": company.id,
                "connection_id": connection.id,
                "update_connection_status": {"status": "Unlinked"},
            }  # fmt: skip
        )
        assert unlinked.status == "Unlinked"
        codat.connections.delete(request={"company_id": company.id, "connection_id": connection.id})
        codat.companies.delete(request={"company_id": company.id})
        with pytest.raises(errors.CodatPlatformError) as gone:
            codat.companies.get(request={"company_id": company.id})
        assert gone.value.status_code == 404

    # Every write is in the audit trail under the key's name, as the portal's own actions are.
    label = "sdk e2e (API key)"
    actions = set(AuditEvent.objects.filter(actor_name=label).values_list("action", flat=True))
    assert {"company_created", "connection_created", "sync_settings_changed", "connection_unlinked"} <= actions
    assert {"company_changed", "company_sync_settings"} <= actions
    assert {"connection_deleted", "company_deleted"} <= actions
    assert not ConnectionEvent.objects.exists()  # deleted with its connection


def test_the_readme_example_works_with_only_the_base_url_changed(live_server, monkeypatch):
    """The "Use the API" example in the README, run as written against a live server."""
    from pathlib import Path

    from portal.api import keys

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Use the API", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "http://127.0.0.1:8000/api" in example
    factory.get_integration("jhch", enabled=True)
    _, key = keys.create_key("readme")
    monkeypatch.setenv("PORTAL_API_KEY", key)
    exec(compile(example.replace("http://127.0.0.1:8000", live_server.url), "README.md", "exec"), {})  # noqa: S102
    connection = Connection.objects.get(company__name="Acme Ltd")
    assert connection.status == "PendingAuth"
    assert AuditEvent.objects.filter(actor_name="readme (API key)", action="company_created").exists()
