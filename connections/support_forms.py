"""Filter forms of the support pages (read history, record browser): plain-words errors, never an exception."""

from datetime import datetime, time, timedelta

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations import registry

from .models import Connection, PullStatus


def _data_type_choices():
    seen = {}
    for provider in registry.all_providers():
        for dt in provider.data_types:
            seen.setdefault(dt.name, dt.label)
    return [("", "Any data type")] + sorted(seen.items(), key=lambda item: item[1])


class PullFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PullStatus.choices])
    data_type = forms.ChoiceField(required=False, label="Data type")
    integration = forms.ChoiceField(required=False)
    since = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2025-03-03."},
    )
    until = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2025-03-31."},
    )

    def __init__(self, *args, integrations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["data_type"].choices = _data_type_choices()
        self.fields["integration"].choices = [("", "Any integration")] + [(i.key, i.name) for i in integrations]
        for name in ("status", "data_type", "integration"):
            self.fields[name].error_messages["invalid_choice"] = "Choose one of the listed values."

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return data

    def filters(self) -> list:
        """ORM filters for the valid fields only: a bad field is reported and ignored, the rest still apply."""
        if not self.is_bound:
            return []
        self.is_valid()
        data = self.cleaned_data
        found = [Q(**{name: data[name]}) for name in ("status", "data_type") if data.get(name)]
        if data.get("integration"):
            # Checked per pull while walking the history newest first (stops at a page's worth)
            # instead of gathering every pull of the integration's connections and sorting them.
            found.append(
                Exists(Connection.objects.filter(pk=OuterRef("connection_id"), integration__key=data["integration"]))
            )
        zone = timezone.get_current_timezone()
        if data.get("since"):
            found.append(Q(requested_at__gte=datetime.combine(data["since"], time.min, tzinfo=zone)))
        if data.get("until"):
            found.append(Q(requested_at__lt=datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=zone)))
        return found


RECORD_SORTS = {
    "date": ("issued_on", "Date, oldest first"),
    "-date": ("-issued_on", "Date, newest first"),
    "amount": ("total", "Amount, smallest first"),
    "-amount": ("-total", "Amount, largest first"),
    "number": ("number", "Number, A to Z"),
    "-number": ("-number", "Number, Z to A"),
}


class RecordFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100, help_text="Number, name or remote id.")
    sort = forms.ChoiceField(
        required=False,
        choices=[(k, label) for k, (_, label) in RECORD_SORTS.items()],
        error_messages={"invalid_choice": "Choose one of the listed sort orders."},
    )
    deleted = forms.BooleanField(required=False, label="Show deleted records")

    def value(self, name):
        """The cleaned value, or the default when the field was invalid."""
        if self.is_bound:
            self.is_valid()
        return getattr(self, "cleaned_data", {}).get(name) or self.fields[name].initial or ""
