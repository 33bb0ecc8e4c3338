from rest_framework import serializers

from jobs.serializers import AssetOut
from providers.models import Generation


def generation_payload(generation: Generation, request=None) -> dict:
    job = generation.job
    outputs = generation.outputs()
    context = {"request": request}
    params = job.params
    error = {"code": job.error.get("code", "error"), "message": job.error.get("message", "")} if job.error else None
    return {
        "id": generation.id,
        "provider": generation.provider,
        "model": generation.model,
        "prompt": generation.prompt,
        "status": generation.status,
        "progress": job.progress,
        "stage": job.stage,
        "job": job.id,
        "video": AssetOut(outputs["video"], context=context).data if outputs["video"] else None,
        "poster": AssetOut(outputs["poster"], context=context).data if outputs["poster"] else None,
        "image": generation.image_id,
        "requested": {
            name: params.get(name)
            for name in ("provider", "model", "duration", "aspect_ratio", "resolution", "fallback")
        },  # fmt: skip
        "cost": float(generation.cost),
        "estimated_cost": float(generation.estimated_cost),
        "duration_seconds": generation.duration_seconds,
        "generation_time": generation.generation_time,
        "width": generation.width,
        "height": generation.height,
        "error": error,
        "providers_tried": generation.tried,
        "created_at": generation.created_at,
        "finished_at": job.finished_at,
    }


class GenerationIn(serializers.Serializer):
    """The request; checked in full against the model's capabilities by the service (field errors by name)."""

    provider = serializers.CharField()
    model = serializers.CharField(required=False)
    prompt = serializers.CharField()
    negative_prompt = serializers.CharField(required=False)
    duration = serializers.IntegerField(required=False)
    aspect_ratio = serializers.CharField(required=False)
    resolution = serializers.CharField(required=False)
    image = serializers.CharField(required=False, help_text="An image asset id (image-to-video).")
    seed = serializers.IntegerField(required=False)
    fallback = serializers.ListField(child=serializers.CharField(), required=False)
    webhook_url = serializers.URLField(required=False)


class GenerationOut(serializers.Serializer):
    id = serializers.CharField()
    provider = serializers.CharField()
    model = serializers.CharField()
    prompt = serializers.CharField()
    status = serializers.ChoiceField(choices=["queued", "processing", "completed", "failed", "cancelled"])
    progress = serializers.FloatField()
    stage = serializers.CharField()
    job = serializers.CharField()
    video = AssetOut(allow_null=True)
    poster = AssetOut(allow_null=True)
    image = serializers.CharField(allow_null=True)
    requested = serializers.DictField()
    cost = serializers.FloatField(help_text="USD, once the video is in.")
    estimated_cost = serializers.FloatField()
    duration_seconds = serializers.FloatField(allow_null=True)
    generation_time = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    error = serializers.DictField(allow_null=True)
    providers_tried = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class UsageRowOut(serializers.Serializer):
    provider = serializers.CharField(required=False)
    model = serializers.CharField(required=False)
    day = serializers.DateField(required=False)
    count = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    total_cost = serializers.FloatField()
    average_generation_time = serializers.FloatField(allow_null=True)


class UsageOut(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    group_by = serializers.CharField()
    rows = UsageRowOut(many=True)
    totals = UsageRowOut()
    budget = serializers.DictField(allow_null=True)


class ProviderOut(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    default_model = serializers.CharField()
    needs_credential = serializers.BooleanField()
    capabilities = serializers.DictField()
    models = serializers.ListField(child=serializers.DictField())
    credential = serializers.DictField(help_text="configured: any key stored; working: an active one.")
