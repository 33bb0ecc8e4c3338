from django.urls import path

from jobs import pages

app_name = "jobs"

urlpatterns = [
    path("", pages.job_list, name="list"),
    path("jobs/new", pages.job_create, name="create"),
    path("jobs/rows", pages.job_rows, name="rows"),
    path("jobs/run", pages.job_run, name="run"),
    path("jobs/<str:job_id>/", pages.job_detail, name="detail"),
    path(
        "jobs/<str:job_id>/deliveries/<str:delivery_id>/redeliver",
        pages.delivery_redeliver_page,
        name="redeliver",
    ),
    path("jobs/<str:job_id>/<str:action>", pages.job_action, name="action"),
]
