"""The endpoint form (Admins) and the delivery log's filters."""

from django import forms

from .events import EVENT_TYPES, TEST_EVENT
from .models import Message


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="Where events are POSTed. HTTPS, on a public address.",
        error_messages={"required": "Give the endpoint's URL."},
    )
    event_types = forms.MultipleChoiceField(
        label="Event types",
        choices=[(name, name) for name in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event type."},
    )
    company_tags = forms.CharField(
        label="Company tags",
        required=False,
        help_text="Optional, comma-separated tagKey:tagValue: only events of companies with one of these tags.",
    )
    description = forms.CharField(label="Description", max_length=200, required=False)

    def tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data.get("company_tags", "").split(",") if tag.strip()]


class LogFilterForm(forms.Form):
    eventType = forms.ChoiceField(
        label="Event type", required=False, choices=[("", "Any")] + [(n, n) for n in (*EVENT_TYPES, TEST_EVENT)]
    )
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *Message.Status.choices])
    companyId = forms.UUIDField(
        label="Company id", required=False, error_messages={"invalid": "A company's id is a UUID."}
    )


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        label="Failed since",
        help_text="Every failed message of events from this time on (events are kept 14 days).",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        error_messages={"required": "Choose a time.", "invalid": "Enter a date and time."},
    )
