from django.conf import settings
from django.db import models
from django.utils import timezone

from mediahub.ids import IdFactory


class Composition(models.Model):
    """A timeline spec and the job that renders it (plus the latest preview job)."""

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("cmp"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="compositions")
    title = models.CharField(max_length=200, blank=True)
    spec = models.JSONField(help_text="The validated spec, with merge placeholders filled.")
    job = models.ForeignKey("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="+")
    preview_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="composition_unique_idempotency_key",
            )
        ]

    def __str__(self):
        return f"{self.id} {self.title}"
