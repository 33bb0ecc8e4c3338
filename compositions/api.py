"""REST API for compositions: validate → call a service → serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from compositions.selectors import compositions_for, get_composition_for
from compositions.serializers import ClipsIn, CompositionOut, composition_payload
from compositions.services import (
    clips_submit,
    composition_cancel,
    composition_create,
    composition_delete,
    composition_preview,
)
from jobs.api import IDEMPOTENCY_KEY, idempotency_key
from jobs.selectors import jobs_for
from jobs.serializers import JobOut, job_payload
from mediahub.errors import InvalidInput


class CompositionListView(generics.ListAPIView):
    serializer_class = CompositionOut

    def get_queryset(self):
        return compositions_for(self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([composition_payload(c, request) for c in page])

    @extend_schema(
        # The spec's JSON schema is the `render` entry of GET /api/v1/operations (docs/compositions.md).
        request={"application/json": OpenApiTypes.OBJECT},
        responses={202: CompositionOut, 200: CompositionOut},
        parameters=[IDEMPOTENCY_KEY],
        summary="Render a timeline spec",
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput(
                "Send the composition as a JSON object.", fields={"non_field_errors": ["Not an object."]}
            )
        composition, created = composition_create(
            owner=request.user, body=dict(request.data), idempotency_key=idempotency_key(request)
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(composition_payload(composition, request), status=code)


class CompositionDetailView(APIView):
    @extend_schema(responses=CompositionOut)
    def get(self, request, composition_id):
        return Response(composition_payload(get_composition_for(request.user, composition_id), request))

    @extend_schema(responses={204: None}, summary="Cancel its renders and delete it (outputs stay as assets)")
    def delete(self, request, composition_id):
        composition_delete(composition=get_composition_for(request.user, composition_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CompositionCancelView(APIView):
    @extend_schema(request=None, responses=CompositionOut)
    def post(self, request, composition_id):
        composition = composition_cancel(composition=get_composition_for(request.user, composition_id))
        return Response(composition_payload(composition, request))


class CompositionPreviewView(APIView):
    @extend_schema(request=None, responses={202: CompositionOut}, summary="Render a fast 360p proxy")
    def post(self, request, composition_id):
        composition = composition_preview(composition=get_composition_for(request.user, composition_id))
        return Response(composition_payload(composition, request), status=status.HTTP_202_ACCEPTED)


class ClipsView(generics.ListAPIView):
    """Highlight clips: a `highlights` job whose result lists the clips."""

    serializer_class = JobOut

    def get_queryset(self):
        return jobs_for(self.request.user).filter(operation="highlights")

    @extend_schema(
        request=ClipsIn,
        responses={202: JobOut, 200: JobOut},
        parameters=[IDEMPOTENCY_KEY],
        summary="Cut the best short clips of a long video",
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput("Send the request as a JSON object.", fields={"non_field_errors": ["Not an object."]})
        job_fields = ClipsIn(data={key: request.data[key] for key in ClipsIn.JOB_FIELDS if key in request.data})
        job_fields.is_valid(raise_exception=True)
        params = {key: value for key, value in request.data.items() if key not in ClipsIn.JOB_FIELDS}
        job, created = clips_submit(
            owner=request.user,
            asset_id=job_fields.validated_data["input"],
            params=params,
            priority=job_fields.validated_data["priority"],
            webhook_url=job_fields.validated_data["webhook_url"],
            idempotency_key=idempotency_key(request),
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(job_payload(job, request), status=code)
