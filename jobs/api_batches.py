"""REST API for batches and webhooks: validate → call a service → serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api import IDEMPOTENCY_KEY, idempotency_key
from jobs.selectors import (
    batches_for,
    deliveries_for,
    get_batch_for,
    get_delivery_for,
    get_job_for,
    get_webhook_endpoint_for,
    webhook_endpoints_for,
)
from jobs.serializers import (
    BatchDetailOut,
    BatchIn,
    BatchOut,
    WebhookDeliveryOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookSecretOut,
    batch_payload,
)
from jobs.services.batches import batch_cancel, batch_submit
from jobs.services.webhooks import account_secret, account_secret_rotate, delivery_redeliver, endpoint_create


class BatchListView(generics.ListAPIView):
    serializer_class = BatchOut

    def get_queryset(self):
        return batches_for(self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([batch_payload(batch, request, with_jobs=False) for batch in page])

    @extend_schema(
        request=BatchIn,
        responses={202: BatchDetailOut, 200: BatchDetailOut},
        parameters=[IDEMPOTENCY_KEY],
        summary="Start jobs",
    )
    def post(self, request):
        body = BatchIn(data=request.data)
        body.is_valid(raise_exception=True)
        batch, created = batch_submit(
            owner=request.user, idempotency_key=idempotency_key(request), **body.validated_data
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(batch_payload(batch, request), status=code)


class BatchDetailView(APIView):
    @extend_schema(responses=BatchDetailOut)
    def get(self, request, batch_id):
        return Response(batch_payload(get_batch_for(request.user, batch_id), request))


class BatchCancelView(APIView):
    @extend_schema(request=None, responses=BatchDetailOut, summary="Cancel every unfinished job of the batch")
    def post(self, request, batch_id):
        batch = batch_cancel(batch=get_batch_for(request.user, batch_id))
        return Response(batch_payload(batch, request))


class WebhookListView(generics.ListAPIView):
    serializer_class = WebhookEndpointOut

    def get_queryset(self):
        return webhook_endpoints_for(self.request.user)

    @extend_schema(request=WebhookEndpointIn, responses={201: WebhookEndpointOut}, summary="Add a webhook endpoint")
    def post(self, request):
        body = WebhookEndpointIn(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint, secret = endpoint_create(owner=request.user, **body.validated_data)
        data = WebhookEndpointOut(endpoint, context={"secret": secret}).data
        return Response(data, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    @extend_schema(responses=WebhookEndpointOut)
    def get(self, request, endpoint_id):
        return Response(WebhookEndpointOut(get_webhook_endpoint_for(request.user, endpoint_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id):
        get_webhook_endpoint_for(request.user, endpoint_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(generics.ListAPIView):
    serializer_class = WebhookDeliveryOut

    def get_queryset(self):
        endpoint = get_webhook_endpoint_for(self.request.user, self.kwargs["endpoint_id"])
        return deliveries_for(self.request.user).filter(endpoint=endpoint)


class JobDeliveriesView(generics.ListAPIView):
    serializer_class = WebhookDeliveryOut

    def get_queryset(self):
        job = get_job_for(self.request.user, self.kwargs["job_id"])
        return deliveries_for(self.request.user).filter(job=job)


class DeliveryRedeliverView(APIView):
    @extend_schema(request=None, responses={202: WebhookDeliveryOut}, summary="Send a delivery again")
    def post(self, request, delivery_id):
        delivery = delivery_redeliver(delivery=get_delivery_for(request.user, delivery_id))
        return Response(WebhookDeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookSecretView(APIView):
    @extend_schema(responses=WebhookSecretOut, summary="The account's signing secret for per-job webhook_url")
    def get(self, request):
        return Response(WebhookSecretOut(_secret_data(account_secret(request.user))).data)


class WebhookSecretRotateView(APIView):
    @extend_schema(request=None, responses=WebhookSecretOut, summary="Replace the account's signing secret")
    def post(self, request):
        return Response(WebhookSecretOut(_secret_data(account_secret_rotate(owner=request.user))).data)


def _secret_data(record) -> dict:
    return {"secret": record.secret, "created_at": record.created_at}
