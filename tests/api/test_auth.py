"""API keys authenticate every API request; nothing else does."""

import logging
import time

import pytest

from portal.api import keys
from portal.api.models import ApiKey
from tests import factory
from tests.api.conftest import assert_codat_error, basic

pytestmark = pytest.mark.django_db


def test_it_answers_401_with_codats_body_without_a_key(anon_api):
    body = assert_codat_error(anon_api.get("/api/companies"), 401)
    assert body["error"] == "Unauthorized"


@pytest.mark.parametrize(
    "header",
    ["Basic " + "bm90LWEta2V5", "Bearer abc", "Basic", "Basic !!!not-base64!!!", "Basic " + "//8="],
    ids=["unknown-key", "bearer", "empty", "not-base64", "not-utf8"],
)
def test_it_refuses_unknown_or_malformed_keys(anon_api, header):
    anon_api.credentials(HTTP_AUTHORIZATION=header)
    assert_codat_error(anon_api.get("/api/integrations"), 401)


def test_it_accepts_a_key_sent_as_codats_sdk_sends_it(api):
    assert api.get("/api/integrations").status_code == 200


def test_the_raw_key_without_base64_is_not_accepted(anon_api, api_key):
    anon_api.credentials(HTTP_AUTHORIZATION="Basic " + api_key[1])
    assert_codat_error(anon_api.get("/api/integrations"), 401)


def test_a_revoked_key_is_refused_at_once(api, api_key):
    assert api.get("/api/integrations").status_code == 200
    keys.revoke_key(api_key[0], actor_name="alice")
    assert_codat_error(api.get("/api/integrations"), 401)


def test_a_portal_session_is_not_an_api_key(anon_api):
    anon_api.force_login(factory.make_admin())
    assert_codat_error(anon_api.get("/api/companies"), 401)


def test_only_a_hash_of_the_key_is_stored(api_key):
    row, key = api_key
    stored = ApiKey.objects.filter(pk=row.pk).values().get()
    assert key not in {str(v) for v in stored.values()}
    assert stored["key_hash"] == keys.hash_key(key) and stored["prefix"] == key[:8]


def test_last_used_is_recorded(api, api_key):
    assert api_key[0].last_used_at is None
    api.get("/api/integrations")
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is not None


def test_every_response_has_a_correlation_id_that_is_also_logged(api, anon_api, api_key, caplog):
    with caplog.at_level(logging.INFO, logger="portal.api"):
        ok = api.get("/api/integrations")
        refused = anon_api.get("/api/integrations")
    for response in (ok, refused):
        cid = response["X-Correlation-Id"]
        assert len(cid) == 32
        assert any(cid in record.getMessage() for record in caplog.records)
    assert ok["X-Correlation-Id"] != refused["X-Correlation-Id"]
    assert api_key[1] not in caplog.text


def test_an_unknown_api_path_answers_codats_404(api):
    assert_codat_error(api.get("/api/nothing/here"), 404)


def test_wrong_method_answers_codats_405(api):
    assert_codat_error(api.delete("/api/integrations"), 405)


def test_malformed_json_answers_codats_400(api):
    response = api.post("/api/companies", data="{not json", content_type="application/json")
    assert_codat_error(response, 400)


def test_an_unhandled_error_answers_codats_500_and_logs_the_correlation_id(api, monkeypatch, caplog):
    from integrations.api import views

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(views, "paged", boom)
    with caplog.at_level(logging.ERROR, logger="portal.api"):
        response = api.get("/api/integrations")
    body = assert_codat_error(response, 500)
    assert "kaboom" not in body["error"]
    assert any(body["correlationId"] in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_the_rate_limit_answers_429_with_retry_after_and_codats_headers(api, settings):
    settings.API_RATE_LIMIT = "3/minute"
    remaining = []
    for _ in range(3):
        response = api.get("/api/integrations")
        assert response.status_code == 200
        assert response["X-Rate-Limit-Limit"] == "3"
        remaining.append(int(response["X-Rate-Limit-Remaining"]))
    assert remaining == [2, 1, 0]
    response = api.get("/api/integrations")
    body = assert_codat_error(response, 429)
    assert body["error"] == "You have made too many requests in a given amount of time; please retry later."
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-Rate-Limit-Remaining"] == "0"
    assert int(response["X-Rate-Limit-Reset"]) - time.time() <= 60


def test_the_rate_limit_is_per_key(api, anon_api, settings):
    settings.API_RATE_LIMIT = "2/minute"
    for _ in range(2):
        api.get("/api/integrations")
    assert api.get("/api/integrations").status_code == 429
    _, other = keys.create_key("other")
    anon_api.credentials(HTTP_AUTHORIZATION=basic(other))
    assert anon_api.get("/api/integrations").status_code == 200


def test_an_error_report_never_shows_the_key(api_key, rf):
    import sys

    from django.views.debug import ExceptionReporter

    request = rf.get("/api/companies", HTTP_AUTHORIZATION=basic(api_key[1]))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        report = ExceptionReporter(request, *sys.exc_info()).get_traceback_text()
    assert basic(api_key[1]).split()[1] not in report and api_key[1] not in report
