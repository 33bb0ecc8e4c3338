"""The real API plus two bare views that read one job row: the floor that Django, DRF and the database set."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.models import Job
from mediahub.urls import handler404, handler500  # noqa: F401
from mediahub.urls import urlpatterns as app_urlpatterns

ROW = ("id", "operation", "status", "progress", "stage", "updated_at")


def django_row(request, job_id):
    return JsonResponse(Job.objects.filter(id=job_id).values(*ROW).first())


class DrfRow(APIView):
    """DRF with nothing configured: no authentication, permission or throttle."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def get(self, request, job_id):
        return Response(Job.objects.filter(id=job_id).values(*ROW).first())


urlpatterns = [
    path("bench/django/<str:job_id>", django_row),
    path("bench/drf/<str:job_id>", DrfRow.as_view()),
    *app_urlpatterns,
]
