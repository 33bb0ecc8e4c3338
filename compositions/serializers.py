from rest_framework import serializers

from compositions.models import Composition
from jobs.models import Job
from jobs.serializers import AssetOut


def _outputs(job: Job | None, request) -> tuple[dict | None, dict | None]:
    """The rendered video and its poster, when the job made them."""
    if job is None:
        return None, None
    assets = sorted(job.outputs.all(), key=lambda asset: asset.created_at)
    video = next((asset for asset in assets if asset.kind == "video"), None)
    poster = next((asset for asset in assets if asset.kind == "image"), None)
    context = {"request": request}
    return (
        AssetOut(video, context=context).data if video else None,
        AssetOut(poster, context=context).data if poster else None,
    )


def _job_state(job: Job | None) -> dict:
    if job is None:
        return {"job": None, "status": "cancelled", "progress": 0.0, "stage": "", "eta_seconds": None, "error": None}
    error = {"code": job.error.get("code", "error"), "message": job.error.get("message", "")} if job.error else None
    return {
        "job": job.id,
        "status": job.status,
        "progress": job.progress,
        "stage": job.stage,
        "eta_seconds": job.eta_seconds,
        "error": error,
        "result": job.result,
    }


def composition_payload(composition: Composition, request=None) -> dict:
    output, poster = _outputs(composition.job, request)
    data = {"id": composition.id, "title": composition.title, **_job_state(composition.job)}
    data |= {"output": output, "poster": poster, "preview": None}
    if composition.preview_job is not None:
        preview, _ = _outputs(composition.preview_job, request)
        data["preview"] = {**_job_state(composition.preview_job), "output": preview}
    data |= {"spec": composition.spec, "created_at": composition.created_at}
    return data


class CompositionOut(serializers.Serializer):
    """The composition, its render's state (mirrors its job) and outputs."""

    id = serializers.CharField()
    title = serializers.CharField()
    job = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Job.Status.choices)
    progress = serializers.FloatField()
    stage = serializers.CharField()
    eta_seconds = serializers.FloatField(allow_null=True)
    error = serializers.DictField(allow_null=True)
    result = serializers.DictField(allow_null=True, required=False)
    output = AssetOut(allow_null=True)
    poster = AssetOut(allow_null=True)
    preview = serializers.DictField(allow_null=True)
    spec = serializers.DictField()
    created_at = serializers.DateTimeField()


class ClipsIn(serializers.Serializer):
    """The clips body's job fields; every other field is a `highlights` param (GET /api/v1/operations)."""

    input = serializers.CharField(max_length=32, help_text="The video asset (a talk, a podcast) to cut clips from.")
    priority = serializers.IntegerField(min_value=0, max_value=9, required=False, default=0)
    webhook_url = serializers.URLField(max_length=2000, required=False, default="")
    count = serializers.IntegerField(required=False, default=3)
    min_duration = serializers.FloatField(required=False, default=15)
    max_duration = serializers.FloatField(required=False, default=60)
    aspect_ratio = serializers.CharField(required=False, default="9:16")
    captions = serializers.DictField(required=False, help_text='{"style": "bold"|"karaoke"|"minimal"|"boxed", …}')
    language = serializers.CharField(required=False, default="en")

    JOB_FIELDS = ("input", "priority", "webhook_url")
