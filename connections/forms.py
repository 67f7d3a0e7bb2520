"""Forms for companies, connections and the public Link page; errors in plain words.

The list pages' filters are filter sets (filtersets.py)."""

from django import forms

from integrations.forms import FREQUENCY_CHOICES
from integrations.models import Integration

from . import tags as company_tags
from .models import Company, Connection

S = Connection.Status


class CompanyForm(forms.ModelForm):
    # Tags are a JSON map on the model; people write them one "name=value" a line.
    tags = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=(
            f"Optional: one tag a line, as name=value (e.g. region=uk). At most {company_tags.MAX_TAGS} tags; "
            f"names up to {company_tags.MAX_NAME} characters, values up to {company_tags.MAX_VALUE}. "
            "Webhooks and the API's tag filter use them."
        ),
    )

    class Meta:
        model = Company
        fields = ["name", "description"]
        help_texts = {
            "name": "The company's name as your team knows it; you can rename it later.",
            "description": "Optional: anything that helps support recognise this company.",
        }
        error_messages = {
            "name": {
                "required": "Give the company a name.",
                "max_length": "A company name can be at most 200 characters long.",
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["tags"] = company_tags.as_lines(self.instance.tags)

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the company a name.")
        return name

    def clean_tags(self):
        tags, errors = company_tags.parse_lines(self.cleaned_data["tags"])
        if errors:
            raise forms.ValidationError(errors)
        return tags


class ConnectionForm(forms.Form):
    """Add a connection from a company to an enabled integration."""

    integration = forms.ModelChoiceField(
        queryset=Integration.objects.none(),
        empty_label=None,
        error_messages={
            "required": "Choose an integration.",
            "invalid_choice": "That integration is switched off or does not exist; choose one that is on.",
        },
        help_text="Only integrations that are switched on are listed.",
    )

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company
        self.fields["integration"].queryset = Integration.objects.filter(enabled=True)

    def clean_integration(self):
        integration = self.cleaned_data["integration"]
        clash = active_connection_in_category(self.company, integration.category)
        if clash is not None:
            raise forms.ValidationError(one_active_message(self.company, clash))
        return integration


def active_connection_in_category(company, category):
    """The company's active (not Unlinked) connection in a category, if any."""
    return (
        company.connections.exclude(status=S.UNLINKED).filter(category=category).select_related("integration").first()
    )


def one_active_message(company, clash):
    return (
        f"{company.name} already has an active {clash.category} connection "
        f"({clash.integration.name}, {clash.status}). A company can have only one; "
        "unlink that one first, or issue it a new Link URL to relink it."
    )


class LinkForm(forms.Form):
    """The one field of the Link page. The value is never rendered back (render_value=False)."""

    api_key = forms.CharField(
        label="API key",
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"},
        ),
        error_messages={
            "required": "Paste your API key into this box.",
            "max_length": "That is longer than an API key can be; check that only the key was pasted.",
        },
    )

    def __init__(self, *args, credentials_label="API key", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["api_key"].label = credentials_label

    def clean_api_key(self):
        value = self.cleaned_data["api_key"]
        if any(ch.isspace() for ch in value):
            raise forms.ValidationError("An API key has no spaces or line breaks; check that only the key was pasted.")
        return value


class CompanySyncSettingForm(forms.Form):
    """One data type on a company's Sync settings page: its own setting, or the portal's."""

    own = forms.BooleanField(required=False, label="Its own setting")
    fetch_on_first_link = forms.BooleanField(required=False, label="Fetch on first link")
    frequency = forms.ChoiceField(
        label="Sync frequency",
        choices=FREQUENCY_CHOICES,
        error_messages={"invalid_choice": "Choose one of none, hourly, daily, weekly or monthly."},
    )


class BaseCompanySyncSettingFormSet(forms.BaseFormSet):
    """One form per data type the portal reads, in `settings` order (`company_sync_settings.settings_of`)."""

    def __init__(self, data=None, *, settings, **kwargs):
        self.settings = settings
        initial = [
            {"own": s.own is not None, "fetch_on_first_link": s.fetch_on_first_link, "frequency": s.frequency}
            for s in settings
        ]
        super().__init__(data, initial=initial, prefix="sync", **kwargs)
        self.max_num = self.min_num = self.absolute_max = len(settings)  # a posted count cannot add rows

    def rows(self):
        return list(zip(self.settings, self.forms, strict=False))  # a short post is refused by validate_min

    def wanted(self) -> dict:
        """{data type: (fetch on first link, frequency)} for the rows marked as the company's own."""
        return {
            setting.data_type: (form.cleaned_data["fetch_on_first_link"], form.cleaned_data["frequency"])
            for setting, form in self.rows()
            if form.cleaned_data.get("own")
        }


CompanySyncSettingFormSet = forms.formset_factory(
    CompanySyncSettingForm, formset=BaseCompanySyncSettingFormSet, extra=0, validate_max=True, validate_min=True
)
