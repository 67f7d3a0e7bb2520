"""Company tags in the portal: Admins set them on the company form, everyone with a role sees them."""

import pytest
from django.urls import reverse

from connections import tags
from connections.models import Company
from integrations.models import AuditEvent
from tests import factory

pytestmark = pytest.mark.django_db


def edit(company):
    return reverse("connections:company-edit", args=[company.pk])


def test_an_admin_creates_a_company_with_tags_and_the_audit_names_each_tag(admin_client, admin_user):
    response = admin_client.post(
        reverse("connections:company-create"), {"name": "Acme", "tags": "region = uk\n\nteam=invoice-finance\n"}
    )
    company = Company.objects.get()
    assert response.status_code == 302
    assert company.tags == {"region": "uk", "team": "invoice-finance"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.COMPANY_CREATED)
    assert {"field": "tag team", "before": None, "after": "invoice-finance"} in event.changes


def test_the_edit_form_shows_the_tags_and_saves_changes_with_their_audit(admin_client, admin_user):
    company = factory.make_company("Acme", tags={"region": "uk", "team": "ops"})
    form_page = admin_client.get(edit(company)).content.decode()
    assert "region=uk\nteam=ops" in form_page
    admin_client.post(edit(company), {"name": "Acme", "tags": "region=us"})
    company.refresh_from_db()
    assert company.tags == {"region": "us"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.COMPANY_CHANGED)
    assert event.actor == admin_user
    assert event.changes == [
        {"field": "tag region", "before": "uk", "after": "us"},
        {"field": "tag team", "before": "ops", "after": None},
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("region", "Line 1: write each tag as name=value."),
        ("region=uk\nregion=us", "Line 2: the tag 'region' is given twice."),
        ("\n".join(f"t{i}=v" for i in range(11)), "A company can have at most 10 tags; 11 were given."),
        ("x" * 28 + "=v", "must be 1 to 27 characters"),
        ("region=" + "v" * 101, "can be at most 100 characters"),
    ],
)
def test_bad_tags_are_refused_in_plain_words_and_nothing_changes(admin_client, text, message):
    company = factory.make_company("Acme", tags={"region": "uk"})
    response = admin_client.post(edit(company), {"name": "Renamed", "tags": text})
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    company.refresh_from_db()
    assert (company.name, company.tags) == ("Acme", {"region": "uk"})


def test_support_sees_the_tags_but_cannot_edit_them(support_client):
    company = factory.make_company("Acme", tags={"region": "uk"})
    page = support_client.get(reverse("connections:company-detail", args=[company.pk])).content.decode()
    assert "region=uk" in page
    assert support_client.post(edit(company), {"name": "Acme", "tags": "region=us"}).status_code == 403
    company.refresh_from_db()
    assert company.tags == {"region": "uk"}


def test_the_limits_are_codats():
    assert tags.tag_errors({f"t{i}": "v" for i in range(10)}) == []
    assert tags.tag_errors({"x" * 27: "v" * 100}) == []
    assert tags.tag_errors({"x" * 27: "v" * 101})
    assert tags.tag_errors({"": "v"})
    assert tags.tag_errors({"a": None})
