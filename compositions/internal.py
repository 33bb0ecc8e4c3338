"""Internal API for compositions (/internal/v1/, keys with the `internal` scope): prepare clips as one batch."""

from drf_spectacular.utils import extend_schema
from pydantic import ValidationError as PydanticError
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from compositions.internal_services import CODECS, NORMALIZE_DEFAULTS, OPERATIONS, process_clips
from jobs.api import IDEMPOTENCY_KEY, idempotency_key
from jobs.operations.thumbnail import ThumbnailParams
from jobs.operations.transcode import RESOLUTIONS
from jobs.selectors import get_batch_for
from jobs.serializers import BatchDetailOut, batch_payload
from jobs.services.jobs import params_errors

MAX_CLIPS = 100


class NormalizeIn(serializers.Serializer):
    resolution = serializers.ChoiceField(choices=list(RESOLUTIONS), default=NORMALIZE_DEFAULTS["resolution"])
    fps = serializers.FloatField(min_value=1, max_value=120, default=NORMALIZE_DEFAULTS["fps"])
    codec = serializers.ChoiceField(choices=CODECS, default=NORMALIZE_DEFAULTS["codec"])
    target_lufs = serializers.FloatField(
        min_value=-70,
        max_value=-5,
        required=False,
        allow_null=True,
        help_text="Also an `audio` job per clip with audio: an AAC track at this integrated loudness.",
    )


class ClipIn(serializers.Serializer):
    clip_url = serializers.URLField(max_length=2000, required=False, help_text="Imported first (SSRF-checked).")
    asset = serializers.CharField(max_length=32, required=False)
    operations = serializers.ListField(
        child=serializers.ChoiceField(choices=OPERATIONS), min_length=1, max_length=2, default=list(OPERATIONS)
    )
    timestamps = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        min_length=1,
        max_length=100,
        help_text='Thumbnail times: seconds or "N%" of the duration; default one frame from the middle.',
    )

    def validate_timestamps(self, value):
        try:
            ThumbnailParams.model_validate({"times": value})
        except PydanticError as exc:
            errors = params_errors(exc, prefix="")
            raise serializers.ValidationError([f"{path}: {m}" for path, ms in errors.items() for m in ms]) from None
        return value

    def validate(self, data):
        if ("clip_url" in data) == ("asset" in data):
            raise serializers.ValidationError({"asset": ["Give clip_url or asset (one of them)."]})
        if len(set(data["operations"])) != len(data["operations"]):
            raise serializers.ValidationError({"operations": ["Name each operation once."]})
        if "timestamps" in data and "thumbnail" not in data["operations"]:
            raise serializers.ValidationError({"timestamps": ["timestamps are for the thumbnail operation."]})
        return data


class ProcessClipsIn(serializers.Serializer):
    clips = ClipIn(many=True, min_length=1, max_length=MAX_CLIPS)
    callback_url = serializers.URLField(max_length=2000, help_text="Gets the signed `batch.finished` event.")
    normalize = NormalizeIn(required=False)


class ClipOut(serializers.Serializer):
    index = serializers.IntegerField()
    clip_url = serializers.CharField(required=False)
    asset = serializers.CharField(help_text="The asset the jobs read (the imported one for clip_url).")
    jobs = serializers.DictField(child=serializers.CharField(), help_text="normalize, loudness, thumbnail → job id.")


class ProcessClipsOut(BatchDetailOut):
    clips = ClipOut(many=True)


class ProcessClipsView(APIView):
    @extend_schema(
        request=ProcessClipsIn,
        responses={202: ProcessClipsOut, 200: ProcessClipsOut},
        parameters=[IDEMPOTENCY_KEY],
        summary="Normalise clips and make their thumbnails as one batch; the callback gets batch.finished",
    )
    def post(self, request):
        body = ProcessClipsIn(data=request.data)
        body.is_valid(raise_exception=True)
        batch, clips, created = process_clips(
            owner=request.user, idempotency_key=idempotency_key(request), **body.validated_data
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response({**batch_payload(batch, request), "clips": clips}, status=code)


class ProcessClipsDetailView(APIView):
    @extend_schema(responses=BatchDetailOut, summary="A process-clips batch with its jobs and their outputs")
    def get(self, request, batch_id):
        return Response(batch_payload(get_batch_for(request.user, batch_id), request))
