from django.conf import settings
from django.db import models
from django.utils import timezone

from mediahub.crypto import decrypt
from mediahub.ids import IdFactory

EVENT_TYPES = ("job.succeeded", "job.failed", "job.cancelled", "batch.finished")


class WebhookEndpoint(models.Model):
    """An account-wide receiver of events; its signing secret is encrypted at rest and shown once."""

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("whk"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, blank=True, help_text="Event types to send; empty means all.")
    description = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=16, help_text="The last characters of the secret, to recognise it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.id} {self.url}"

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted)

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookSecret(models.Model):
    """The account's default signing secret, used for per-job and per-batch `webhook_url` deliveries."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="webhook_secret"
    )
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"webhook secret of {self.owner_id}"

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted)


class WebhookDelivery(models.Model):
    """One event to one URL: the exact body sent on every attempt, and the log of those attempts."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("whd"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    url = models.URLField(max_length=2000)
    event_id = models.CharField(max_length=32, db_index=True)
    event_type = models.CharField(max_length=32)
    body = models.TextField(help_text="The JSON body exactly as signed and sent.")
    job = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    batch = models.ForeignKey("Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    log = models.JSONField(default=list, blank=True, help_text="One entry per attempt: time, status, latency, …")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.id} {self.event_type} → {self.url}"
