from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs.models.assets import Asset
from mediahub.ids import IdFactory


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("job"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    operation = models.CharField(max_length=32, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    inputs = models.ManyToManyField(Asset, through="JobInput", related_name="input_of", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0)
    stage = models.CharField(max_length=32, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    log_tail = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    priority = models.PositiveSmallIntegerField(default=0, help_text="0–9; higher starts first.")
    webhook_url = models.URLField(max_length=2000, blank=True)
    batch = models.ForeignKey("Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    enqueued_at = models.DateTimeField(default=timezone.now, help_text="When the broker last got this job.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["status", "-priority", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_unique_idempotency_key",
            )
        ]

    def __str__(self):
        return f"{self.id} {self.operation} {self.status}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("jobs:detail", args=[self.id])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def ordered_inputs(self) -> list[Asset]:
        return [link.asset for link in self._input_links() if link.role == JobInput.INPUT]

    def param_assets(self) -> dict[str, Asset | None]:
        """Assets named in params (a watermark's image, a quality reference), by param name."""
        return {link.role: link.asset for link in self._input_links() if link.role != JobInput.INPUT}

    def _input_links(self):
        """The input links with their assets: the prefetched ones when the job was loaded with them (a claimed
        job, see job_claim_next), so that a worker reads them once for its run and every event."""
        if "input_links" in getattr(self, "_prefetched_objects_cache", {}):
            return self.input_links.all()
        return self.input_links.select_related("asset")

    # --- state transitions: each one a conditional UPDATE, so two writers never both win ---------------

    def claim(self, *, worker: str, lease_seconds: int) -> bool:
        """Move queued → running for this worker; False when another worker (or a cancel) got there first."""
        now = timezone.now()
        claimed = Job.objects.filter(id=self.id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING,
            attempts=models.F("attempts") + 1,
            worker=worker,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            progress=0,
            stage="starting",
            eta_seconds=None,
            error=None,
            updated_at=now,
        )
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def heartbeat(self, *, lease_seconds: int, **fields) -> bool:
        """Renew the lease and store progress; False when the job is no longer ours to run (cancelled)."""
        now = timezone.now()
        return bool(
            Job.objects.filter(id=self.id, status=Job.Status.RUNNING, worker=self.worker).update(
                lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now, **fields
            )
        )

    def finish(self, status: str, **fields) -> bool:
        """running → a final status, unless a cancel or a lease recovery moved the job meanwhile."""
        now = timezone.now()
        done = Job.objects.filter(id=self.id, status=Job.Status.RUNNING, worker=self.worker).update(
            status=status, finished_at=now, updated_at=now, lease_expires_at=None, eta_seconds=None, **fields
        )
        self.refresh_from_db()
        return bool(done)

    def cancel(self) -> bool:
        """queued/running → cancelled. A running worker notices at its next heartbeat and kills FFmpeg."""
        now = timezone.now()
        done = Job.objects.filter(id=self.id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
            status=Job.Status.CANCELLED, finished_at=now, updated_at=now, lease_expires_at=None, eta_seconds=None
        )
        self.refresh_from_db()
        return bool(done)

    def requeue(
        self, *, from_statuses, reset_attempts: bool = False, uncount_attempt: bool = False, **conditions
    ) -> bool:
        """Back to the queue from one of `from_statuses` (and `conditions`); `reset_attempts` for a retry that
        starts afresh, `uncount_attempt` for a run given back unfinished by its own worker."""
        now = timezone.now()
        fields = dict(
            status=Job.Status.QUEUED,
            enqueued_at=now,
            progress=0,
            stage="",
            eta_seconds=None,
            error=None,
            result=None,
            worker="",
            lease_expires_at=None,
            started_at=None,
            finished_at=None,
            updated_at=now,
        )
        if reset_attempts:
            fields["attempts"] = 0
        elif uncount_attempt:
            fields["attempts"] = models.F("attempts") - 1
        done = Job.objects.filter(id=self.id, status__in=from_statuses, **conditions).update(**fields)
        self.refresh_from_db()
        return bool(done)

    def hand_back(self) -> bool:
        """running → queued by the worker running it, which is stopping: the attempt does not count. False when
        a cancel or a lease recovery moved the job meanwhile."""
        return self.requeue(from_statuses=[Job.Status.RUNNING], uncount_attempt=True, worker=self.worker)


class JobInput(models.Model):
    """An asset a job reads: one of its ordered inputs, or one named by a param (`role` is the param's name)."""

    INPUT = "input"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="input_links")
    # Deleting an asset that finished jobs used keeps those jobs' history; active jobs block it (409).
    asset = models.ForeignKey(Asset, null=True, on_delete=models.SET_NULL, related_name="+")
    position = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=32, default=INPUT)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="jobinput_unique_position")]

    def __str__(self):
        return f"{self.job_id}[{self.position}] = {self.asset_id}"
