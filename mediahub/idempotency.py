"""`Idempotency-Key` on creates: the same key and request give the first result; another request, a 409."""

import hashlib
import json

from django.db.models import QuerySet

from mediahub.errors import Conflict


def fingerprint(**request) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def replay(queryset: QuerySet, key: str, request_fingerprint: str):
    """What an earlier request with this key created (None when there was none); 409 if that request differed.
    `queryset` is already scoped to the owner: keys of different users never meet."""
    if not key:
        return None
    existing = queryset.filter(idempotency_key=key).first()
    if existing is not None and existing.request_fingerprint != request_fingerprint:
        raise Conflict("This Idempotency-Key was used with a different request.", code="idempotency_key_reused")
    return existing
