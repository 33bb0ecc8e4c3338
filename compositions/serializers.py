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
