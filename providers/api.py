"""REST API for AI generations: validate → call a service → serialize."""

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api import IDEMPOTENCY_KEY, idempotency_key
from mediahub.errors import InvalidInput
from providers.models import STATUS_FROM_JOB
from providers.selectors import (
    GROUPS,
    generations_for,
    get_generation_for,
    month_start,
    providers_for,
    spend_this_month,
    usage,
)
from providers.serializers import GenerationIn, GenerationOut, ProviderOut, UsageOut, generation_payload
from providers.services import generation_cancel, generation_create, generation_delete, monthly_budget

JOB_STATUS = {value: key for key, value in STATUS_FROM_JOB.items()}
# Starting, cancelling and deleting generations spends money or loses videos: the `generate` scope.
GENERATE = {"GET": "read", "POST": "generate", "DELETE": "generate"}


class ProvidersView(APIView):
    @extend_schema(responses=ProviderOut(many=True), summary="Providers, models, capabilities, prices, your keys")
    def get(self, request):
        return Response(providers_for(request.user))


class GenerationListView(generics.ListAPIView):
    serializer_class = GenerationOut
    required_scope = GENERATE

    def get_queryset(self):
        found = generations_for(self.request.user)
        query = self.request.query_params
        if query.get("provider"):
            found = found.filter(provider=query["provider"])
        if query.get("model"):
            found = found.filter(model=query["model"])
        if query.get("status"):
            if query["status"] not in JOB_STATUS:
                raise InvalidInput("Unknown status.", fields={"status": [f"One of {', '.join(JOB_STATUS)}."]})
            found = found.filter(job__status=JOB_STATUS[query["status"]])
        return found

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset().prefetch_related("job__outputs"))
        return self.get_paginated_response([generation_payload(g, request) for g in page])

    @extend_schema(
        request=GenerationIn,
        responses={202: GenerationOut, 200: GenerationOut},
        parameters=[IDEMPOTENCY_KEY],
        summary="Generate a video with an AI provider (with fallback)",
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise InvalidInput("Send the request as a JSON object.", fields={"non_field_errors": ["Not an object."]})
        body = dict(request.data)
        webhook_url = body.pop("webhook_url", "") or ""
        generation, created = generation_create(
            owner=request.user, body=body, webhook_url=webhook_url, idempotency_key=idempotency_key(request)
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(generation_payload(generation, request), status=code)


class GenerationDetailView(APIView):
    required_scope = GENERATE

    @extend_schema(responses=GenerationOut)
    def get(self, request, generation_id):
        return Response(generation_payload(get_generation_for(request.user, generation_id), request))

    @extend_schema(responses={204: None}, summary="Delete a finished generation with its video and poster")
    def delete(self, request, generation_id):
        generation_delete(generation=get_generation_for(request.user, generation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GenerationCancelView(APIView):
    required_scope = GENERATE

    @extend_schema(request=None, responses=GenerationOut)
    def post(self, request, generation_id):
        generation = generation_cancel(generation=get_generation_for(request.user, generation_id))
        generation.job.refresh_from_db()
        return Response(generation_payload(generation, request))


def _moment(value: str, name: str, *, end: bool = False) -> datetime:
    """An ISO date (the whole day) or datetime from the query string."""
    try:
        day = parse_date(value)  # a date alone: the whole day (parse_datetime would read it as midnight)
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min) if day else parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidInput("Bad date.", fields={name: ["Use an ISO date (2026-11-01) or date-time."]})
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


class UsageView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="ISO date or date-time; default: the start of this month"),
            OpenApiParameter("to", str, description="ISO date (inclusive) or date-time; default: now"),
            OpenApiParameter("group_by", str, enum=list(GROUPS), description="default: provider"),
        ],
        responses=UsageOut,
        summary="Generations counted and costed by provider, model or day",
    )
    def get(self, request):
        query = request.query_params
        group_by = query.get("group_by", "provider")
        if group_by not in GROUPS:
            raise InvalidInput("Unknown grouping.", fields={"group_by": [f"One of {', '.join(GROUPS)}."]})
        start = _moment(query["from"], "from") if query.get("from") else month_start()
        end = _moment(query["to"], "to", end=True) if query.get("to") else timezone.now() + timedelta(seconds=1)
        if end <= start:
            raise InvalidInput("Empty range.", fields={"to": ["Must be after `from`."]})
        rows = usage(request.user, start=start, end=end, group_by=group_by)
        totals = {"count": 0, "succeeded": 0, "failed": 0, "total_cost": 0.0}
        for row in rows:
            for name in totals:
                totals[name] += row[name]
        timed = [(row["average_generation_time"], row["succeeded"]) for row in rows if row["average_generation_time"]]
        succeeded = sum(count for _, count in timed)
        average = round(sum(t * count for t, count in timed) / succeeded, 3) if succeeded else None
        totals |= {"total_cost": round(totals["total_cost"], 4), "average_generation_time": average}
        limit = monthly_budget(request.user)
        budget = None
        if limit is not None:
            spent = spend_this_month(request.user)
            budget = {"monthly_usd": float(limit), "spent_this_month": float(spent),
                      "remaining": float(max(limit - spent, 0))}  # fmt: skip
        return Response({"start": start, "end": end, "group_by": group_by, "rows": rows, "totals": totals,
                         "budget": budget})  # fmt: skip
