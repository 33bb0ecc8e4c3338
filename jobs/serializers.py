from django.urls import reverse
from rest_framework import serializers

from jobs.models import Asset, Job


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
        ]

    def get_content_url(self, asset: Asset) -> str:
        url = reverse("api:asset-content", args=[asset.id])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class JobOut(serializers.ModelSerializer):
    inputs = serializers.SerializerMethodField()
    outputs = AssetOut(many=True, read_only=True)
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
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]

    def get_inputs(self, job: Job) -> list[str]:
        return [link.asset_id for link in job.input_links.all()]

    def get_error(self, job: Job) -> dict | None:
        if not job.error:
            return None
        return {"code": job.error.get("code", "error"), "message": job.error.get("message", "")}


def job_payload(job: Job, request=None) -> dict:
    return JobOut(job, context={"request": request}).data


class JobIn(serializers.Serializer):
    operation = serializers.CharField(max_length=32)
    input = serializers.CharField(max_length=32, required=False)
    inputs = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=100)
    params = serializers.DictField(required=False, default=dict)
    priority = serializers.IntegerField(min_value=0, max_value=9, required=False, default=0)

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
    params_schema = serializers.DictField(help_text="JSON schema of the operation's params.")


class OperationCatalogOut(serializers.Serializer):
    results = OperationOut(many=True)
