"""The deploy check warns when local webhook targets are allowed with DEBUG off, and only then."""

import pytest
from django.core import checks

from connections.webhooks.checks import local_targets_check


@pytest.mark.parametrize(
    ("allow_local", "debug", "warned"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_it_warns_only_for_local_targets_without_debug(settings, allow_local, debug, warned):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS, settings.DEBUG = allow_local, debug
    found = local_targets_check(None)
    assert [w.id for w in found] == (["webhooks.W001"] if warned else [])
    if warned:
        assert found[0].level == checks.WARNING and "WEBHOOK_ALLOW_LOCAL_TARGETS" in found[0].msg


def test_it_runs_with_the_deploy_checks_only(settings):
    settings.WEBHOOK_ALLOW_LOCAL_TARGETS, settings.DEBUG = True, False
    assert "webhooks.W001" in {w.id for w in checks.run_checks(include_deployment_checks=True)}
    assert "webhooks.W001" not in {w.id for w in checks.run_checks()}
