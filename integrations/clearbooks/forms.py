from django import forms
from django.conf import settings as django_settings
from django.core.validators import URLValidator

DEFAULT_WSDL_URL = "https://secure.clearbooks.co.uk/api/accounting/wsdl/"


class ClearBooksSettingsForm(forms.Form):
    """The portal-wide Clear Books settings an admin can change on the Manage page."""

    wsdl_url = forms.CharField(
        label="WSDL URL",
        initial=DEFAULT_WSDL_URL,
        max_length=500,
        validators=[
            URLValidator(schemes=["http", "https"], message="Enter a full web address starting with https://.")
        ],
        error_messages={"required": "Enter the WSDL URL (the default is " + DEFAULT_WSDL_URL + ")."},
        help_text="Where the Clear Books SOAP description is read from. "
        "The CLEARBOOKS_WSDL_URL environment variable overrides it.",
    )
    timeout = forms.IntegerField(
        label="Request timeout (seconds)",
        initial=60,
        min_value=1,
        max_value=300,
        error_messages={
            "required": "Enter a timeout in seconds, from 1 to 300.",
            "invalid": "Enter the timeout as a whole number of seconds, from 1 to 300.",
            "min_value": "The timeout must be at least 1 second.",
            "max_value": "The timeout can be at most 300 seconds.",
        },
        help_text="How long to wait for Clear Books to answer one request, from 1 to 300 seconds.",
    )
    app_name = forms.CharField(
        label="App name",
        initial="Integration Portal",
        max_length=80,
        help_text="Shown to the company's user: what to type in the first box of Clear Books' API key form.",
        error_messages={"required": "Enter the app name the company's user types in the first box."},
    )
    portal_name = forms.CharField(
        label="Portal name",
        initial="Integration Portal",
        max_length=80,
        help_text="Shown to the company's user: what to type in the second box.",
        error_messages={"required": "Enter the portal name the company's user types in the second box."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Deployment settings win over the admin's. The Manage page says so once, above the
        # fields (from `overrides`); the field's own help then only says what it is.
        self.overrides = {}
        if django_settings.CLEARBOOKS_WSDL_URL:
            self.overrides["wsdl_url"] = django_settings.CLEARBOOKS_WSDL_URL
            self.fields["wsdl_url"].help_text = "Where the Clear Books SOAP description is read from."

    def clean_app_name(self):
        return self.cleaned_data["app_name"].strip()

    def clean_portal_name(self):
        return self.cleaned_data["portal_name"].strip()
