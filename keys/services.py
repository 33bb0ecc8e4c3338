"""API keys and provider credentials: create, rotate, revoke, validate; every change is audited."""

import ipaddress
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from keys.audit import Actor, audit_record
from keys.models import SCOPES, STAFF_SCOPES, ApiKey, ProviderCredential, default_scopes, hash_secret
from keys.provider_checks import check_credential
from mediahub.crypto import encrypt, rotate
from mediahub.errors import Conflict, InvalidInput

# Provider → the parts of its credential. Kling signs JWTs with an access key and a secret key.
CREDENTIAL_PARTS = {"kling": ("access_key", "secret_key")}


def _networks(values: list[str]) -> list[str]:
    networks, errors = [], []
    for index, value in enumerate(values):
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            errors.append(f"{index}: {value!r} is not an IPv4 or IPv6 address or CIDR network.")
    if errors:
        raise InvalidInput("Invalid allowed network.", fields={"allowed_ips": errors})
    return networks


def _scopes(owner, scopes: list[str] | None) -> list[str]:
    scopes = default_scopes() if scopes is None else list(dict.fromkeys(scopes))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        message = f"Unknown scope {', '.join(unknown)}." if unknown else "Give at least one scope."
        raise InvalidInput("Invalid scopes.", fields={"scopes": [f"{message} Scopes: {', '.join(SCOPES)}."]})
    if STAFF_SCOPES & set(scopes) and not owner.is_staff:
        raise InvalidInput("Invalid scopes.", fields={"scopes": ["Only staff accounts can hold the internal scope."]})
    return scopes


@transaction.atomic
def apikey_create(
    *,
    owner: AbstractBaseUser,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
    by: Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the raw secret is returned once and only its hash is stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry is in the past.", fields={"expires_at": ["Give a time in the future."]})
    raw, prefix = ApiKey.generate()
    key = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(raw),
        scopes=_scopes(owner, scopes),
        allowed_networks=_networks(allowed_ips or []),
        expires_at=expires_at,
    )
    audit_record(by or Actor(owner), "apikey.create", key.id, name=name, scopes=key.scopes)
    return key, raw


@transaction.atomic
def apikey_rotate(*, key: ApiKey, by: Actor | None = None) -> tuple[ApiKey, str]:
    """A new secret for the key; the old one keeps working for MEDIAHUB_KEY_ROTATION_GRACE_HOURS."""
    if not key.is_active:
        raise Conflict("Revoked or expired keys cannot be rotated.", code="key_inactive")
    raw, prefix = ApiKey.generate()
    now = timezone.now()
    key.previous_prefix, key.previous_secret_hash = key.prefix, key.secret_hash
    key.previous_valid_until = now + timedelta(hours=settings.MEDIAHUB_KEY_ROTATION_GRACE_HOURS)
    key.prefix, key.secret_hash, key.rotated_at = prefix, hash_secret(raw), now
    key.save(update_fields=["previous_prefix", "previous_secret_hash", "previous_valid_until", "prefix",
                            "secret_hash", "rotated_at"])  # fmt: skip
    audit_record(by or Actor(key.owner), "apikey.rotate", key.id, grace_until=key.previous_valid_until.isoformat())
    return key, raw


def apikey_revoke(*, key: ApiKey, by: Actor | None = None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(by or Actor(key.owner), "apikey.revoke", key.id)
    return key


def _credential_parts(provider: str, secret: str | None, access_key: str | None, secret_key: str | None) -> dict:
    names = CREDENTIAL_PARTS.get(provider, ("secret",))
    given = {"secret": secret, "access_key": access_key, "secret_key": secret_key}
    missing = {name: ["Required for this provider."] for name in names if not (given[name] or "").strip()}
    extra = {name: [f"Not used by {provider}."] for name, value in given.items() if value and name not in names}
    if missing or extra:
        raise InvalidInput("The credential's parts do not match the provider.", fields=missing | extra)
    return {name: given[name].strip() for name in names}


@transaction.atomic
def provider_credential_create(
    *,
    owner,
    provider: str,
    label: str = "",
    secret: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    by: Actor | None = None,
) -> ProviderCredential:
    """Store a provider key encrypted (all its parts as one JSON document); only its last 4 stay readable."""
    parts = _credential_parts(provider, secret, access_key, secret_key)
    shown = parts.get("secret") or parts["secret_key"]
    credential = ProviderCredential.objects.create(
        owner=owner,
        provider=provider,
        label=label,
        secret_encrypted=encrypt(json.dumps(parts)),
        hint=shown[-4:],
    )
    audit_record(by or Actor(owner), "provider_key.create", credential.id, provider=provider, label=label)
    return credential


def provider_credential_revoke(*, credential: ProviderCredential, by: Actor | None = None) -> ProviderCredential:
    """Mark revoked and drop the encrypted secret: a revoked credential can never be decrypted again."""
    if credential.status != ProviderCredential.Status.REVOKED:
        credential.status, credential.revoked_at = ProviderCredential.Status.REVOKED, timezone.now()
        credential.secret_encrypted = ""
        credential.save(update_fields=["status", "revoked_at", "secret_encrypted"])
        audit_record(by or Actor(credential.owner), "provider_key.revoke", credential.id)
    return credential


def provider_credential_validate(*, credential: ProviderCredential, by: Actor | None = None) -> ProviderCredential:
    """Ask the provider's adapter whether the credential works, and record the answer."""
    if credential.status == ProviderCredential.Status.REVOKED:
        raise Conflict("This credential was revoked.", code="credential_revoked")
    result = check_credential(credential.provider, credential.parts())
    credential.status, credential.status_message = result.status, result.message[:300]
    credential.last_validated_at = timezone.now()
    credential.save(update_fields=["status", "status_message", "last_validated_at"])
    audit_record(by or Actor(credential.owner), "provider_key.validate", credential.id, status=result.status)
    return credential


@transaction.atomic
def secrets_reencrypt() -> dict[str, int]:
    """Re-encrypt every secret at rest with the newest key (MultiFernet.rotate); nothing is ever decrypted to
    a log or a file on the way."""
    from jobs.models import WebhookEndpoint, WebhookSecret

    counts = {}
    for model in (ProviderCredential, WebhookEndpoint, WebhookSecret):
        rows = model.objects.select_for_update().exclude(secret_encrypted="")
        for row in rows:
            row.secret_encrypted = rotate(row.secret_encrypted)
            row.save(update_fields=["secret_encrypted"])
        counts[model._meta.verbose_name_plural] = len(rows)
    return counts
