import hashlib
import hmac
import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

from mediahub.ids import IdFactory

KEY_PREFIX = "mh_live_"
_ALPHABET = string.ascii_letters + string.digits


def hash_secret(raw_key: str) -> str:
    # Keys carry 190 random bits, so a fast hash is safe; a slow KDF would only slow every request.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("key"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="The visible start of the key.")
    secret_hash = models.CharField(max_length=64)
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
        return hmac.compare_digest(self.secret_hash, hash_secret(raw_key))
