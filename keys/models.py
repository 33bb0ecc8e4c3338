import hashlib
import hmac
import ipaddress
import json
import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

from mediahub.crypto import decrypt
from mediahub.ids import IdFactory

KEY_PREFIX = "mh_live_"
_ALPHABET = string.ascii_letters + string.digits

# What a key may do. `read`: GET your objects; `write`: create, change and delete them; `generate`: AI video
# generations (they cost money); `admin`: manage API keys and provider credentials; `internal`: the
# service-to-service API under /internal/v1/ (staff keys only).
SCOPES = ("read", "write", "generate", "admin", "internal")
DEFAULT_SCOPES = ["read", "write", "generate"]
STAFF_SCOPES = {"internal"}


def default_scopes() -> list[str]:
    return list(DEFAULT_SCOPES)


def hash_secret(raw_key: str) -> str:
    # Keys carry 190 random bits, so a fast hash is safe; a slow KDF would only slow every request.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("key"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="The visible start of the key.")
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=default_scopes)
    allowed_networks = models.JSONField(
        default=list, blank=True, help_text="CIDRs (IPv4 and IPv6) the key may be used from; empty means anywhere."
    )
    # After a rotation the previous secret keeps working until previous_valid_until (the grace period).
    previous_prefix = models.CharField(max_length=16, null=True, blank=True, unique=True)
    previous_secret_hash = models.CharField(max_length=64, blank=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> tuple[str, str]:
        """A new raw key and its lookup prefix: `mh_live_` + 8 visible characters + 32 secret ones."""
        body = "".join(secrets.choice(_ALPHABET) for _ in range(40))
        raw = KEY_PREFIX + body
        return raw, raw[: len(KEY_PREFIX) + 8]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def matches(self, raw_key: str) -> bool:
        """The current secret, or the previous one during its grace period."""
        if raw_key.startswith(self.prefix):
            return hmac.compare_digest(self.secret_hash, hash_secret(raw_key))
        in_grace = self.previous_valid_until is not None and self.previous_valid_until > timezone.now()
        return in_grace and hmac.compare_digest(self.previous_secret_hash, hash_secret(raw_key))

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def allows_address(self, address: str | None) -> bool:
        """Whether a request from `address` may use the key; networks are matched as networks, IPv4-mapped
        IPv6 addresses as the IPv4 address they carry."""
        if not self.allowed_networks:
            return True
        if not address:
            return False
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in ipaddress.ip_network(network, strict=False) for network in self.allowed_networks)


class ProviderCredential(models.Model):
    """A user's key for a paid AI video provider: Fernet-encrypted JSON at rest, only its last 4 shown."""

    class Provider(models.TextChoices):
        RUNWAY = "runway"
        KLING = "kling"
        OPENAI = "openai"
        LUMA = "luma"
        REPLICATE = "replicate"
        LOCAL = "local"

    class Status(models.TextChoices):
        ACTIVE = "active"
        INVALID = "invalid"
        QUOTA_EXCEEDED = "quota_exceeded"
        REVOKED = "revoked"

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("pk"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_credentials")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    label = models.CharField(max_length=100, blank=True)
    secret_encrypted = models.TextField(help_text="Fernet token of a JSON object of the credential's parts.")
    hint = models.CharField(max_length=8, help_text="The last 4 characters of the secret.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_message = models.CharField(max_length=300, blank=True)
    last_validated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="When a generation last started with it.")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.provider} …{self.hint} ({self.status})"

    @property
    def masked(self) -> str:
        return f"…{self.hint}"

    def parts(self) -> dict[str, str]:
        """The decrypted credential ({"secret": …} or Kling's {"access_key", "secret_key"}); never log it."""
        return json.loads(decrypt(self.secret_encrypted))


class AuditEvent(models.Model):
    """Who did what to which object, when and from where: key and credential changes, admin actions."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=64, blank=True, help_text="The public id of the object acted on.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
