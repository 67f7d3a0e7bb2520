from django import forms
from django.contrib.auth import get_user_model

from .models import AuditEvent, Integration, SyncSetting
from .registry import Frequency

FREQUENCY_CHOICES = [
    (Frequency.NONE.value, "None (only when asked)"),
    (Frequency.HOURLY.value, "Hourly"),
    (Frequency.DAILY.value, "Daily"),
    (Frequency.WEEKLY.value, "Weekly"),
    (Frequency.MONTHLY.value, "Monthly"),
]


class SyncSettingForm(forms.ModelForm):
    """One data type's row on the Manage page: fetch on first link, and how often."""

    frequency = forms.ChoiceField(
        label="Sync frequency",
        choices=FREQUENCY_CHOICES,
        error_messages={"invalid_choice": "Choose one of none, hourly, daily, weekly or monthly."},
    )

    class Meta:
        model = SyncSetting
        fields = ["fetch_on_first_link", "frequency"]
        labels = {"fetch_on_first_link": "Fetch on first link"}


class BaseSyncSettingFormSet(forms.BaseModelFormSet):
    def clean(self):
        super().clean()
        # A row id outside this integration's rows (a stale page, or a forged one) gets an
        # unsaved instance from Django: refuse the whole save rather than insert or skip it.
        if any(form.instance.pk is None for form in self.initial_forms):
            raise forms.ValidationError(
                "These sync settings no longer match this integration. Reload the page and try again."
            )


# Rows come from the registry (sync_catalogue): admins change them, never add or remove
# (edit_only refuses forged extra rows).
SyncSettingFormSet = forms.modelformset_factory(
    SyncSetting, form=SyncSettingForm, formset=BaseSyncSettingFormSet, extra=0, edit_only=True
)


def sync_formset(integration, data=None):
    return SyncSettingFormSet(data, queryset=integration.sync_settings.order_by("id"), prefix="sync")


class NoSettingsForm(forms.Form):
    """For a provider without settings of its own: always valid, saves an empty dict."""


class IntegrationSearchForm(forms.Form):
    q = forms.CharField(label="Search integrations", required=False, max_length=100)


class ActivityFilterForm(forms.Form):
    """Filters for the Activity page; every field is optional."""

    integration = forms.ModelChoiceField(
        queryset=Integration.objects.order_by("name"), required=False, empty_label="All integrations"
    )
    actor = forms.ModelChoiceField(
        label="User", queryset=get_user_model().objects.none(), required=False, empty_label="All users"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only users who have done something: the list stays short and every choice finds events.
        actor_ids = AuditEvent.objects.exclude(actor=None).values("actor_id")
        self.fields["actor"].queryset = get_user_model().objects.filter(pk__in=actor_ids).order_by("username")

    def filter(self, events):
        if not self.is_valid():
            return events
        if self.cleaned_data["integration"]:
            events = events.filter(integration=self.cleaned_data["integration"])
        if self.cleaned_data["actor"]:
            events = events.filter(actor=self.cleaned_data["actor"])
        return events
