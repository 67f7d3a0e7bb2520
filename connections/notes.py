"""Support notes on a connection: short, signed, and never holding a credential."""

from django import forms

from .credentials import CredentialsUnreadable, connection_credentials
from .events import record_event
from .models import ConnectionEvent

NOTE_MAX_LENGTH = 1000
HOLDS_KEY = (
    "This note contains the connection's {label}. Notes must never hold credentials: "
    "write it again without the key (it was not saved)."
)


def _secrets(connection):
    try:
        credentials = connection_credentials(connection)
    except CredentialsUnreadable:
        return []
    # Very short values (a flag, a region) would refuse ordinary words: only real secrets count.
    return [str(v) for v in credentials.values() if v and len(str(v)) >= 6]


def holds_credential(connection, text) -> bool:
    """True when `text` contains a stored credential, even split by spaces or line breaks."""
    squeezed = "".join(text.split())
    return any(secret in text or "".join(secret.split()) in squeezed for secret in _secrets(connection))


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Who you spoke to, what you tried. Never paste a credential here.",
        error_messages={
            "required": "Write the note first.",
            "max_length": f"Keep notes under {NOTE_MAX_LENGTH} characters.",
        },
    )

    def __init__(self, *args, connection, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection = connection
        self.refused_credential = False

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("Write the note first.")
        if holds_credential(self.connection, text):
            self.refused_credential = True
            label = self.connection.integration.provider.credentials_label
            raise forms.ValidationError(HOLDS_KEY.format(label=label))
        return text

    def full_clean(self):
        super().full_clean()
        if self.refused_credential:
            # Never echo the key back into the page: the field is shown empty.
            self.data = self.data.copy()
            self.data[self.add_prefix("text")] = ""


def add_note(connection, user, text):
    """Record a note in the connection's timeline (callers validate with NoteForm first)."""
    return record_event(connection, ConnectionEvent.Kind.NOTE, text, actor=user, detail={"note": True})
