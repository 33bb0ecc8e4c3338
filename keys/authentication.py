"""`Authorization: Token <key>` or `Bearer <key>` against hashed API keys."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from keys.models import KEY_PREFIX, ApiKey, hash_secret

_LAST_USED_RESOLUTION = timedelta(minutes=1)
_PREFIX_LENGTH = len(KEY_PREFIX) + 8


class KeyNotAllowedHere(exceptions.PermissionDenied):
    default_detail = "This API key may not be used from this network address."
    default_code = "key_network_denied"


def key_for(raw_key: str, *, ip: str | None = None) -> ApiKey | None:
    """The active key for a raw secret (the current one, or the previous one during a rotation's grace
    period), with its owner; None for an unknown, revoked or expired key. KeyNotAllowedHere when the key is
    valid but restricted to networks that do not include `ip`."""
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 100:
        return None
    prefix = raw_key[:_PREFIX_LENGTH]
    key = ApiKey.objects.select_related("owner").filter(Q(prefix=prefix) | Q(previous_prefix=prefix)).first()
    if key is None or not key.matches(raw_key) or not key.is_active or not key.owner.is_active:
        return None
    if not key.allows_address(ip):
        raise KeyNotAllowedHere()
    now = timezone.now()
    # At most one write a minute per key, with the address of that moment: a client whose requests come from
    # several addresses (IPv4 and IPv6, a pool of NAT addresses) would otherwise write on nearly every request.
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
    return key


def key_from_header(value: str) -> str | None:
    parts = value.split()
    if len(parts) == 2 and parts[0].lower() in ("token", "bearer"):
        return parts[1]
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Sets request.user to the key's owner and request.auth to the ApiKey (its scopes are checked later)."""

    keyword = "Token"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        raw = key_from_header(header)
        if raw is None:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Token <key>' or 'Bearer <key>'.")
        key = key_for(raw, ip=request.META.get("REMOTE_ADDR"))
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        return (key.owner, key)

    def authenticate_header(self, request):
        return self.keyword


__all__ = ["ApiKeyAuthentication", "KeyNotAllowedHere", "hash_secret", "key_for", "key_from_header"]
