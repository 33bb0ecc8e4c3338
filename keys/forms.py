"""Dashboard forms for API keys and provider credentials; the services validate again (and have the last word)."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from keys.models import DEFAULT_SCOPES, SCOPES, STAFF_SCOPES, ProviderCredential
from keys.services import CREDENTIAL_PARTS

SCOPE_HELP = {
    "read": "read: list and fetch your objects",
    "write": "write: create, change and delete them",
    "generate": "generate: AI video generations (they cost money)",
    "admin": "admin: manage API keys and provider keys",
    "internal": "internal: the service-to-service API (staff only)",
}


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, initial=DEFAULT_SCOPES)
    expires_on = forms.DateField(
        required=False,
        label="Expires after",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key stops working at the end of this day (UTC). Empty: never.",
    )
    allowed_networks = forms.CharField(
        required=False,
        label="Allowed networks",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "203.0.113.0/24\n2001:db8::/32"}),
        help_text="One IPv4 or IPv6 address or CIDR per line. Empty: any address.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        offered = [scope for scope in SCOPES if user.is_staff or scope not in STAFF_SCOPES]
        self.fields["scopes"].choices = [(scope, SCOPE_HELP.get(scope, scope)) for scope in offered]

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError("Give today or a later day.")
        return day

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        day = data["expires_on"]
        expires_at = None
        if day is not None:
            expires_at = datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())
        networks = [line.strip() for line in data["allowed_networks"].splitlines() if line.strip()]
        return {"name": data["name"], "scopes": data["scopes"], "expires_at": expires_at, "allowed_ips": networks}


# The services' field names → this form's.
API_KEY_FIELDS = {"allowed_ips": "allowed_networks", "expires_at": "expires_on"}


# render_value=False (the default): a secret is never written back into the page, not even after an error.
# "new-password" keeps browsers from filling in the login password.
_SECRET_INPUT = forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False)
PROVIDER_LABELS = {"openai": "OpenAI", "kling": "Kling (access key + secret key)"}


def provider_choices() -> list[tuple[str, str]]:
    return [(value, PROVIDER_LABELS.get(value, label)) for value, label in ProviderCredential.Provider.choices]


class ProviderKeyForm(forms.Form):
    """Every part is a password input that never renders its value back, not even after an error."""

    provider = forms.ChoiceField(choices=provider_choices)
    label = forms.CharField(max_length=100, required=False)
    secret = forms.CharField(max_length=4000, required=False, widget=_SECRET_INPUT, label="API key")
    access_key = forms.CharField(max_length=4000, required=False, widget=_SECRET_INPUT, label="Access key")
    secret_key = forms.CharField(max_length=4000, required=False, widget=_SECRET_INPUT, label="Secret key")

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        parts = {name: data[name] or None for name in ("secret", "access_key", "secret_key")}
        return {"provider": data["provider"], "label": data["label"], **parts}


# Which providers take the two-part form (keys.js shows the right fields; the service checks them).
MULTI_PART_PROVIDERS = sorted(CREDENTIAL_PARTS)
