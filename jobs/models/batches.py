from django.conf import settings
from django.db import models
from django.utils import timezone

from mediahub.ids import IdFactory


class Batch(models.Model):
    """Jobs submitted together: their status and progress are aggregated, and one event marks the end."""

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("bat"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches")
    webhook_url = models.URLField(max_length=2000, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When the last of its jobs finished.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="batch_unique_idempotency_key",
            )
        ]

    def __str__(self):
        return self.id

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("jobs:batch-detail", args=[self.id])

    def mark_finished(self) -> bool:
        """Record the end once all jobs are final; True for the one caller that recorded it (the race between
        two workers finishing the last two jobs is settled by the conditional UPDATE)."""
        from jobs.models.jobs import Job

        if self.jobs.exclude(status__in=Job.FINISHED).exists():
            return False
        now = timezone.now()
        done = Batch.objects.filter(id=self.id, finished_at__isnull=True).update(finished_at=now)
        if done:
            self.finished_at = now
        return bool(done)
