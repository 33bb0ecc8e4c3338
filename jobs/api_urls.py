from django.urls import path

from jobs import api

urlpatterns = [
    path("operations", api.OperationsView.as_view(), name="operations"),
    path("assets", api.AssetListView.as_view(), name="asset-list"),
    path("assets/<str:asset_id>", api.AssetDetailView.as_view(), name="asset-detail"),
    path("assets/<str:asset_id>/content", api.AssetContentView.as_view(), name="asset-content"),
    path("jobs", api.JobListView.as_view(), name="job-list"),
    path("jobs/<str:job_id>", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<str:job_id>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<str:job_id>/retry", api.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<str:job_id>/events", api.JobEventsView.as_view(), name="job-events"),
]
