"""Webhooks: signed events to account endpoints and per-job URLs, retried with backoff for about a day.

Every delivery of an event sends the same bytes with the same event id; a receiver verifies
`MediaHub-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and ignores ids it has seen."""

import email.utils
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from jobs.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint, WebhookSecret
from mediahub.crypto import encrypt
from mediahub.errors import Conflict, InvalidInput
from mediahub.ids import new_id
from mediahub.ssrf import FetchFailed, UnsafeUrl, check_url, post_checked

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "MediaHub-Signature"
RETRY_STATUSES = {408, 425, 429}
MAX_RETRY_AFTER = 12 * 3600


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `MediaHub-Signature` header value for `body`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _check_url(url: str) -> None:
    try:
        check_url(url)
    except (UnsafeUrl, FetchFailed) as exc:
        raise InvalidInput("The webhook URL is not allowed.", fields={"url": [exc.message]}) from None


def endpoint_create(*, owner, url: str, events: list[str], description: str = "") -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned once, stored encrypted)."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            "Unknown event type.", fields={"events": [f"{', '.join(unknown)}: use {', '.join(EVENT_TYPES)}."]}
        )
    _check_url(url)
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        owner=owner,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret_encrypted=encrypt(secret),
        secret_hint=secret[-4:],
    )
    return endpoint, secret


def account_secret(owner) -> WebhookSecret:
    """The account's default signing secret (for `webhook_url` deliveries), made on first use."""
    secret = new_secret()
    record, _ = WebhookSecret.objects.get_or_create(owner=owner, defaults={"secret_encrypted": encrypt(secret)})
    return record


def account_secret_rotate(*, owner) -> WebhookSecret:
    record = account_secret(owner)
    record.secret_encrypted = encrypt(new_secret())
    record.created_at = timezone.now()
    record.save(update_fields=["secret_encrypted", "created_at"])
    return record


def event_emit(
    *, owner, event_type: str, data: Callable[[], dict], url: str = "", job=None, batch=None
) -> list[WebhookDelivery]:
    """Record one event for each receiver (the object's own `url` and the owner's subscribed endpoints) and
    send them once the caller's transaction commits. `data` makes the payload, only when someone receives it."""
    receivers = [(None, url)] if url else []
    receivers += [
        (endpoint, endpoint.url)
        for endpoint in WebhookEndpoint.objects.filter(owner=owner)
        if endpoint.wants(event_type)
    ]
    if not receivers:
        return []
    event_id = new_id("evt")
    body = json.dumps(
        {"id": event_id, "type": event_type, "created": int(time.time()), "data": data()},
        separators=(",", ":"),
        default=str,
    )
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            owner=owner,
            endpoint=endpoint,
            url=target,
            event_id=event_id,
            event_type=event_type,
            body=body,
            job=job,
            batch=batch,
            next_attempt_at=now,
        )
        for endpoint, target in receivers
    )
    for delivery in deliveries:
        transaction.on_commit(lambda delivery_id=delivery.id: _enqueue(delivery_id))
    return deliveries


def _enqueue(delivery_id: str) -> None:
    from django_q.tasks import async_task

    async_task("jobs.tasks.send_webhook", delivery_id, group="webhooks")


def retry_delay(attempt: int, retry_after: float | None = None) -> float | None:
    """Seconds before the next attempt after `attempt` failed ones; None when the retries are spent."""
    delays = settings.MEDIAHUB_WEBHOOK_RETRY_DELAYS
    if attempt > len(delays):
        return None
    delay = delays[attempt - 1] * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def _signing_secret(delivery: WebhookDelivery) -> str:
    return delivery.endpoint.secret if delivery.endpoint_id else account_secret(delivery.owner).secret


def delivery_send(*, delivery_id: str) -> WebhookDelivery | None:
    """Make one attempt if the delivery is due; record it and schedule the next one after a retryable failure."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.MEDIAHUB_WEBHOOK_TIMEOUT + 60)
    # Claim the attempt: a sweep and a queued task reaching one delivery at once must not both send it.
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease, attempts=models.F("attempts") + 1)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(id=delivery_id)
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "MediaHub-Webhooks/1",
        SIGNATURE_HEADER: signature(_signing_secret(delivery), body),
        "MediaHub-Event-Id": delivery.event_id,
    }
    entry = {"at": now.isoformat(), "attempt": delivery.attempts, "status": None, "error": None, "response": ""}
    retry_after = None
    started = time.monotonic()
    try:
        reply = post_checked(delivery.url, body=body, headers=headers, timeout=settings.MEDIAHUB_WEBHOOK_TIMEOUT)
    except (UnsafeUrl, FetchFailed) as exc:
        entry |= {"error": exc.message}
        retryable = False
    except httpx.HTTPError as exc:
        entry |= {"error": f"{type(exc).__name__}: the receiver could not be reached or did not answer in time."}
        retryable = True
    else:
        entry |= {"status": reply.status, "response": reply.text[:500]}
        retryable = reply.status >= 500 or reply.status in RETRY_STATUSES
        retry_after = parse_retry_after(reply.headers.get("retry-after"))
        delivery.response_status = reply.status
    entry["latency_ms"] = round((time.monotonic() - started) * 1000)

    delivery.log = [*delivery.log, entry][-50:]
    if entry["status"] is not None and 200 <= entry["status"] < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "succeeded", timezone.now(), None
    else:
        delay = retry_delay(delivery.attempts, retry_after) if retryable else None
        if delay is None:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    delivery.save(update_fields=["status", "log", "response_status", "next_attempt_at", "delivered_at"])
    log.info("webhook %s %s → %s", delivery.id, delivery.event_type, entry["status"] or entry["error"])
    return delivery


def deliveries_send_due(limit: int = 200) -> int:
    """Attempt the deliveries whose retry time has come (run every minute by the cluster's scheduler)."""
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).values_list("id", flat=True)[:limit]
    return sum(delivery_send(delivery_id=delivery_id) is not None for delivery_id in list(due))


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again by hand (same event id and body), with a fresh retry schedule."""
    if delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 0:
        raise Conflict("This delivery has not been attempted yet.", code="delivery_pending")
    WebhookDelivery.objects.filter(id=delivery.id).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), delivered_at=None
    )
    transaction.on_commit(lambda: _enqueue(delivery.id))
    delivery.refresh_from_db()
    return delivery
