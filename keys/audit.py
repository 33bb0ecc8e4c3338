"""The audit log: who did what, to which object, when and from which address."""

from dataclasses import dataclass

from keys.models import ApiKey, AuditEvent


@dataclass
class Actor:
    """Who makes a change: the user, their address and the API key they used (None for a session)."""

    user: object
    ip: str | None = None
    api_key: ApiKey | None = None

    @classmethod
    def of(cls, request) -> "Actor":
        key = request.auth if isinstance(getattr(request, "auth", None), ApiKey) else None
        return cls(user=request.user, ip=request.META.get("REMOTE_ADDR"), api_key=key)


def audit_record(by: Actor, action: str, target: str = "", **details) -> AuditEvent:
    """Record an event; `details` must never hold secrets (ids, names, scopes and statuses only)."""
    return AuditEvent.objects.create(
        actor=by.user if getattr(by.user, "is_authenticated", False) else None,
        api_key=by.api_key,
        action=action,
        target=target,
        ip=by.ip,
        details=details,
    )
