from django import forms
from django.contrib.auth.forms import AuthenticationForm

from apps.core.forms import ServiceForm
from apps.core.names import name_validator


class LoginForm(AuthenticationForm):
    """Django's login form with the portal's field attributes."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "class": "form-control"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password", "class": "form-control"})


EXPIRY_CHOICES = [("", "Never"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


class ApiTokenForm(ServiceForm):
    name = forms.CharField(
        max_length=100,
        validators=[name_validator],
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "e.g. laptop scripts"}),
        help_text="What the token is for, so you know which one to revoke.",
    )
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        label="Expires",
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class SshKeyForm(ServiceForm):
    name = forms.CharField(
        max_length=100,
        validators=[name_validator],
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "e.g. work laptop"}),
        help_text="Optional; the key's comment is used if empty.",
    )
    public_key = forms.CharField(
        widget=forms.Textarea(
            attrs={"class": "form-control font-monospace", "rows": 4, "placeholder": "ssh-ed25519 AAAA… you@laptop"}
        ),
        help_text="The contents of your .pub file (ed25519, ECDSA or RSA of 2048 bits or more).",
    )
