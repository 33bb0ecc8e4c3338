import json

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.models import Asset, Batch, Job, JobInput, WebhookDelivery, WebhookEndpoint
from jobs.operations import get_operation
from jobs.selectors import batch_summary


def content_url(asset: Asset, request=None) -> str:
    if asset.kind == Asset.Kind.STREAM:  # at its own name, so a player resolves the relative member URIs
        url = reverse("api:asset-member", args=[asset.id, asset.file.name.rsplit("/", 1)[-1]])
    else:
        url = reverse("api:asset-content", args=[asset.id])
    if request:
        return request.build_absolute_uri(url)
    return settings.MEDIAHUB_PUBLIC_URL.rstrip("/") + url  # webhooks and WebSocket messages have no request


class AssetOut(serializers.ModelSerializer):
    content_url = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id",
            "kind",
            "name",
            "size",
            "content_type",
            "sha256",
            "duration",
            "width",
            "height",
            "fps",
            "video_codec",
            "audio_codec",
            "source",
            "job",
            "probe",
            "created_at",
            "content_url",
            "files",
        ]

    def get_content_url(self, asset: Asset) -> str:
        return content_url(asset, self.context.get("request"))


class JobOut(serializers.ModelSerializer):
    inputs = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "operation",
            "status",
            "progress",
            "stage",
            "eta_seconds",
            "params",
            "inputs",
            "outputs",
            "result",
            "error",
            "attempts",
            "max_attempts",
            "priority",
            "webhook_url",
            "batch",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]

    @extend_schema_field(AssetOut(many=True))
    def get_outputs(self, job: Job) -> list[dict]:
        """In the order the operation wrote them (the audio file before its waveform, frame 1 before 2); only a
        succeeded job has outputs."""
        if job.status != Job.Status.SUCCEEDED:
            return []
        outputs = sorted(job.outputs.all(), key=lambda asset: (asset.created_at, asset.id))
        return AssetOut(outputs, many=True, context=self.context).data

    @extend_schema_field({"type": "object", "nullable": True})
    def get_result(self, job: Job) -> dict | None:
        """The operation's structured output; assets it refers to are shown as the outputs list shows them."""
        operation = get_operation(job.operation)
        if not job.result or operation is None:
            return job.result
        return operation.present_result(job.result, lambda: {asset["id"]: asset for asset in self.get_outputs(job)})

    def get_inputs(self, job: Job) -> list[str]:
        return [link.asset_id for link in job.input_links.all() if link.role == "input"]

    def get_error(self, job: Job) -> dict | None:
        if not job.error:
            return None
        return {"code": job.error.get("code", "error"), "message": job.error.get("message", "")}


def _time(value) -> str | None:
    """A time as DRF's DateTimeField writes it: ISO 8601 in the current time zone, UTC as `Z`."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _float(value) -> float | None:
    return None if value is None else float(value)


def asset_payload(asset: Asset, request=None) -> dict:
    """AssetOut's output, written out: a ModelSerializer builds its fields from the model again for every
    object, which cost more than the rest of a job poll (tests/jobs/test_payloads.py keeps the two equal)."""
    return {
        "id": asset.id,
        "kind": asset.kind,
        "name": asset.name,
        "size": asset.size,
        "content_type": asset.content_type,
        "sha256": asset.sha256,
        "duration": _float(asset.duration),
        "width": asset.width,
        "height": asset.height,
        "fps": _float(asset.fps),
        "video_codec": asset.video_codec,
        "audio_codec": asset.audio_codec,
        "source": asset.source,
        "job": asset.job_id,
        "probe": asset.probe,
        "created_at": _time(asset.created_at),
        "content_url": content_url(asset, request),
        "files": asset.files,
    }


def job_payload(job: Job, request=None, *, inputs: list[str] | None = None) -> dict:
    """JobOut's output, written out like asset_payload; the job's input links (and outputs) prefetched. A job
    just created passes its `inputs` instead: it has no outputs yet, so no query is needed for either. Outputs
    are stored as a job succeeds (and removed if it does not), so only a succeeded job has any to read."""
    outputs = []
    if inputs is None:
        inputs = [link.asset_id for link in job.input_links.all() if link.role == JobInput.INPUT]
    if job.status == Job.Status.SUCCEEDED:
        ordered = sorted(job.outputs.all(), key=lambda asset: (asset.created_at, asset.id))
        outputs = [asset_payload(asset, request) for asset in ordered]
    operation = get_operation(job.operation)
    result = job.result
    if result and operation is not None:
        result = operation.present_result(result, lambda: {asset["id"]: asset for asset in outputs})
    error = {"code": job.error.get("code", "error"), "message": job.error.get("message", "")} if job.error else None
    return {
        "id": job.id,
        "operation": job.operation,
        "status": job.status,
        "progress": _float(job.progress),
        "stage": job.stage,
        "eta_seconds": _float(job.eta_seconds),
        "params": job.params,
        "inputs": inputs,
        "outputs": outputs,
        "result": result,
        "error": error,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "priority": job.priority,
        "webhook_url": job.webhook_url,
        "batch": job.batch_id,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "updated_at": _time(job.updated_at),
    }


class JobIn(serializers.Serializer):
    operation = serializers.CharField(max_length=32)
    input = serializers.CharField(max_length=32, required=False)
    inputs = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=100)
    params = serializers.DictField(required=False, default=dict)
    priority = serializers.IntegerField(min_value=0, max_value=9, required=False, default=0)
    webhook_url = serializers.URLField(max_length=2000, required=False, default="")

    def validate(self, data):
        if "input" in data and "inputs" in data:
            raise serializers.ValidationError({"inputs": ["Give input or inputs, not both."]})
        data["inputs"] = [data.pop("input")] if "input" in data else data.get("inputs", [])
        return data


class AssetUploadIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


class AssetUrlIn(serializers.Serializer):
    url = serializers.URLField(max_length=2000)


class OperationOut(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    inputs = serializers.DictField()
    asset_params = serializers.DictField(help_text="Params that name assets → the asset kinds each accepts.")
    capabilities = serializers.DictField(help_text="Features that depend on this FFmpeg build.")
    params_schema = serializers.DictField(help_text="JSON schema of the operation's params.")


class OperationCatalogOut(serializers.Serializer):
    results = OperationOut(many=True)


class BatchIn(serializers.Serializer):
    jobs = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=1000)
    webhook_url = serializers.URLField(max_length=2000, required=False, default="")


class BatchOut(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=Job.Status.choices)
    progress = serializers.FloatField()
    total = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Jobs per status.")
    webhook_url = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class BatchDetailOut(BatchOut):
    jobs = JobOut(many=True)


def batch_payload(batch: Batch, request=None, *, with_jobs: bool = True) -> dict:
    summary = {
        "id": batch.id,
        **batch_summary(batch),
        "webhook_url": batch.webhook_url,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
    }
    data = dict(BatchOut(summary).data)
    if with_jobs:
        jobs = batch.jobs.order_by("created_at", "id").prefetch_related("input_links", "outputs")
        data["jobs"] = JobOut(jobs, many=True, context={"request": request}).data
    return data


class WebhookEndpointIn(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(child=serializers.CharField(max_length=32), required=False, default=list)
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class WebhookEndpointOut(serializers.ModelSerializer):
    secret = serializers.SerializerMethodField(help_text="Only in the response that created the endpoint.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "description", "secret_hint", "secret", "created_at"]

    def get_secret(self, endpoint) -> str | None:
        return self.context.get("secret")


class WebhookSecretOut(serializers.Serializer):
    secret = serializers.CharField()
    created_at = serializers.DateTimeField()


class WebhookDeliveryOut(serializers.ModelSerializer):
    event = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "url",
            "endpoint",
            "job",
            "batch",
            "status",
            "attempts",
            "response_status",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "log",
            "event",
        ]

    def get_event(self, delivery) -> dict:
        """The body as sent (the same on every attempt)."""
        return json.loads(delivery.body)
