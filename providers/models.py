from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs.models import Asset, Job
from mediahub.ids import IdFactory

# Generation statuses (the contract's) from its job's status.
STATUS_FROM_JOB = {
    Job.Status.QUEUED: "queued",
    Job.Status.RUNNING: "processing",
    Job.Status.SUCCEEDED: "completed",
    Job.Status.FAILED: "failed",
    Job.Status.CANCELLED: "cancelled",
}


class Generation(models.Model):
    """An AI video request and its path through the providers. Its job carries status, progress, cancel,
    webhooks and the stored video; the row keeps what polling needs to resume after a worker restart."""

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("gen"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="generation")
    provider = models.CharField(max_length=16, help_text="The provider asked last (the first one, until a fallback).")
    model = models.CharField(max_length=64)
    prompt = models.TextField()
    image = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider_task_id = models.CharField(max_length=200, blank=True)
    credential = models.ForeignKey(
        "keys.ProviderCredential", null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    tried = models.JSONField(default=list, blank=True, help_text="Every provider asked, and why it moved on.")
    estimated_cost = models.DecimalField(max_digits=10, decimal_places=4, default=0, help_text="USD, at submit.")
    cost = models.DecimalField(max_digits=10, decimal_places=4, default=0, help_text="USD, once the video is in.")
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    generation_time = models.FloatField(null=True, blank=True, help_text="Seconds from submit to a stored video.")
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="When the current provider got the task.")
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
                name="generation_unique_idempotency_key",
            )
        ]

    def __str__(self):
        return f"{self.id} {self.provider}/{self.model}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("providers:generation", args=[self.id])

    @property
    def status(self) -> str:
        return STATUS_FROM_JOB[self.job.status]

    def outputs(self) -> dict[str, Asset | None]:
        """The stored video and its poster (the job's outputs)."""
        found = {asset.kind: asset for asset in self.job.outputs.all()}
        return {"video": found.get(Asset.Kind.VIDEO), "poster": found.get(Asset.Kind.IMAGE)}


class Budget(models.Model):
    """A user's monthly spend limit for generations, overriding MEDIAHUB_MONTHLY_BUDGET_USD (0 = no limit)."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_budget")
    monthly_usd = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self):
        return f"{self.owner} {self.monthly_usd} USD/month"
