"""`Authorization: Token <key>` or `Bearer <key>` against hashed API keys."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from keys.models import KEY_PREFIX, ApiKey, hash_secret

_LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_for_key(raw_key: str, *, ip: str | None = None):
    """The key's owner, or None for an unknown, revoked or expired key."""
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 100:
        return None
    key = ApiKey.objects.select_related("owner").filter(prefix=raw_key[: len(KEY_PREFIX) + 8]).first()
    if key is None or not key.matches(raw_key) or not key.is_active or not key.owner.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION or key.last_used_ip != ip:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
    return key.owner


def key_from_header(value: str) -> str | None:
    parts = value.split()
    if len(parts) == 2 and parts[0].lower() in ("token", "bearer"):
        return parts[1]
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        raw = key_from_header(header)
        if raw is None:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Token <key>' or 'Bearer <key>'.")
        user = user_for_key(raw, ip=request.META.get("REMOTE_ADDR"))
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        return (user, None)

    def authenticate_header(self, request):
        return self.keyword


__all__ = ["ApiKeyAuthentication", "hash_secret", "key_from_header", "user_for_key"]
