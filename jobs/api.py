"""REST API for assets, jobs and the operations catalog: validate → call a service → serialize."""

import asyncio
import json
from pathlib import Path

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.content import asset_response, member_response
from jobs.models import Job
from jobs.operations import catalog
from jobs.selectors import assets_for, get_asset_for, get_job_for, jobs_for
from jobs.serializers import (
    AssetOut,
    AssetUploadIn,
    AssetUrlIn,
    JobIn,
    JobOut,
    OperationCatalogOut,
    asset_payload,
    job_payload,
)
from jobs.services.assets import asset_delete, asset_import_url, asset_upload
from jobs.services.jobs import job_cancel, job_retry, job_submit
from jobs.uploads import LimitedUploadHandler, check_declared_length
from mediahub.errors import InvalidInput

IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)


def idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > 255 or not key.isprintable():
        message = "Idempotency-Key must be at most 255 printable characters."
        raise InvalidInput(message, fields={"Idempotency-Key": [message]})
    return key


class OperationsView(APIView):
    @extend_schema(
        summary="The operations catalog with each operation's params JSON schema", responses=OperationCatalogOut
    )
    def get(self, request):
        return Response({"results": catalog()})


class AssetListView(generics.ListAPIView):
    serializer_class = AssetOut
    parser_classes = [MultiPartParser, JSONParser]

    def initialize_request(self, request, *args, **kwargs):
        if request.method == "POST":
            request.upload_handlers = [LimitedUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        queryset = assets_for(self.request.user)
        kind = self.request.query_params.get("kind")
        return queryset.filter(kind=kind) if kind else queryset

    @extend_schema(
        request={"multipart/form-data": AssetUploadIn, "application/json": AssetUrlIn},
        responses={201: AssetOut, 200: AssetOut},
        parameters=[IDEMPOTENCY_KEY],
        summary="Upload a media file, or import one from a URL",
    )
    def post(self, request):
        check_declared_length(request)
        key = idempotency_key(request)
        if request.content_type.startswith("application/json"):
            body = AssetUrlIn(data=request.data)
            body.is_valid(raise_exception=True)
            asset, created = asset_import_url(owner=request.user, url=body.validated_data["url"], idempotency_key=key)
        else:
            serializer = AssetUploadIn(data=request.data)
            serializer.is_valid(raise_exception=True)
            upload = serializer.validated_data["file"]
            if not hasattr(upload, "temporary_file_path"):
                raise InvalidInput("Send the file as multipart/form-data field 'file'.", fields={"file": ["Missing."]})
            path = Path(upload.temporary_file_path())
            digest = getattr(upload, "sha256", "")  # taken by LimitedUploadHandler as the file arrived
            asset, created = asset_upload(
                owner=request.user, path=path, name=upload.name, idempotency_key=key, sha256=digest
            )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(AssetOut(asset, context={"request": request}).data, status=code)


class AssetDetailView(APIView):
    @extend_schema(responses=AssetOut)
    def get(self, request, asset_id):
        return Response(asset_payload(get_asset_for(request.user, asset_id), request))

    @extend_schema(responses={204: None})
    def delete(self, request, asset_id):
        asset_delete(asset=get_asset_for(request.user, asset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssetContentView(APIView):
    throttle_scope = "content"  # players and downloads draw on their own budget, not the API's
    @extend_schema(summary="The asset's bytes (supports Range) or a redirect to a signed URL", responses=bytes)
    def get(self, request, asset_id):
        return asset_response(request, get_asset_for(request.user, asset_id))


class AssetMemberView(APIView):
    throttle_scope = "content"
    @extend_schema(
        summary="A file of a folder asset (HLS/DASH): a playlist, or a segment (Range; remote: redirect)",
        responses=bytes,
        operation_id="v1_assets_content_member_retrieve",
    )
    def get(self, request, asset_id, member):
        return member_response(request, get_asset_for(request.user, asset_id), member)


class JobListView(generics.ListAPIView):
    serializer_class = JobOut

    def get_queryset(self):
        queryset = jobs_for(self.request.user)
        for name in ("status", "operation"):
            value = self.request.query_params.get(name)
            if value:
                queryset = queryset.filter(**{name: value})
        return queryset

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([job_payload(job, request) for job in page])

    @extend_schema(
        request=JobIn,
        responses={202: JobOut, 200: JobOut},
        parameters=[IDEMPOTENCY_KEY],
        summary="Start a job",
    )
    def post(self, request):
        data = JobIn(data=request.data)
        data.is_valid(raise_exception=True)
        job, created = job_submit(
            owner=request.user,
            idempotency_key=idempotency_key(request),
            **data.validated_data,
        )
        if created:
            payload = job_payload(job, request, inputs=data.validated_data["inputs"])  # new: no outputs yet
            return Response(payload, status=status.HTTP_202_ACCEPTED)
        return Response(job_payload(job, request), status=status.HTTP_200_OK)


class JobDetailView(APIView):
    @extend_schema(responses=JobOut)
    def get(self, request, job_id):
        return Response(job_payload(get_job_for(request.user, job_id), request))


class JobCancelView(APIView):
    @extend_schema(request=None, responses=JobOut)
    def post(self, request, job_id):
        job = job_cancel(job=get_job_for(request.user, job_id))
        return Response(job_payload(job, request))


class JobRetryView(APIView):
    @extend_schema(request=None, responses={202: JobOut})
    def post(self, request, job_id):
        job = job_retry(job=get_job_for(request.user, job_id))
        return Response(job_payload(job, request), status=status.HTTP_202_ACCEPTED)


SSE_POLL_SECONDS = 0.5
SSE_KEEPALIVE_SECONDS = 15


@sync_to_async
def job_state(job_id: str) -> tuple[dict, bool]:
    """The job as a stream event and whether it finished. The connection goes back to the pool after each read
    (unless a transaction holds it): a stream that lasts an hour must not keep one from other requests."""
    try:
        job = Job.objects.prefetch_related("input_links", "outputs").get(id=job_id)
        return job_payload(job), job.is_finished
    finally:
        if not connection.in_atomic_block:
            connection.close()


async def job_event_stream(job_id: str):
    """`data: {job}` for every change of the job, until it finishes; comments keep proxies from timing out."""
    last, quiet = None, 0.0
    while True:
        payload, finished = await job_state(job_id)
        text = json.dumps(payload, default=str)
        if text != last:
            last, quiet = text, 0.0
            yield f"data: {text}\n\n"
        elif quiet >= SSE_KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keep-alive\n\n"
        if finished:
            return
        await asyncio.sleep(SSE_POLL_SECONDS)
        quiet += SSE_POLL_SECONDS


class JobEventsView(APIView):
    @extend_schema(summary="Server-Sent Events: the job on every change, until it finishes", responses=str)
    def get(self, request, job_id):
        job = get_job_for(request.user, job_id)
        response = StreamingHttpResponse(job_event_stream(job.id), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
