from django import forms
from django.core.validators import URLValidator

DEFAULT_WSDL_URL = "https://secure.clearbooks.co.uk/api/accounting/wsdl/"


class ClearBooksSettingsForm(forms.Form):
    """The portal-wide Clear Books settings an admin can change on the Manage page."""

    wsdl_url = forms.CharField(
        label="WSDL URL",
        initial=DEFAULT_WSDL_URL,
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where the Clear Books SOAP description is read from. "
        "The CLEARBOOKS_WSDL_URL environment variable overrides it.",
    )
    timeout = forms.IntegerField(
        label="Request timeout (seconds)",
        initial=60,
        min_value=1,
        max_value=300,
        help_text="How long to wait for Clear Books to answer one request, from 1 to 300 seconds.",
    )
    app_name = forms.CharField(
        label="App name",
        initial="Integration Portal",
        max_length=80,
        help_text="Shown to the company's user: what to type in the first box of Clear Books' API key form.",
    )
    portal_name = forms.CharField(
        label="Portal name",
        initial="Integration Portal",
        max_length=80,
        help_text="Shown to the company's user: what to type in the second box.",
    )

    def clean_app_name(self):
        return self.cleaned_data["app_name"].strip()

    def clean_portal_name(self):
        return self.cleaned_data["portal_name"].strip()
