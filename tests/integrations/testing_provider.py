"""A second, real provider for tests: Banking, with a secret setting.

Registered only while a test uses the `bank_integration` fixture (see conftest.py), so
the catalogue has two categories in use and a sensitive setting to mask.
"""

from django import forms

from integrations import registry


class BankSettingsForm(forms.Form):
    api_secret = forms.CharField(label="API secret", initial="initial-secret", max_length=100)
    region = forms.ChoiceField(choices=[("uk", "UK"), ("eu", "EU")], initial="uk")


class BankProvider(registry.Provider):
    key = "tbnk"
    name = "Test Bank"
    category = "Banking"
    logo = "integrations/clearbooks/logo.svg"
    summary = "A bank that exists only in the tests."
    settings_form = BankSettingsForm
    sensitive_settings = ("api_secret",)
    data_types = (registry.DataType("bankAccounts", "Bank accounts", "GET /accounts"),)
