from django.urls import path

from jobs import api, api_batches

urlpatterns = [
    path("operations", api.OperationsView.as_view(), name="operations"),
    path("assets", api.AssetListView.as_view(), name="asset-list"),
    path("assets/<str:asset_id>", api.AssetDetailView.as_view(), name="asset-detail"),
    path("assets/<str:asset_id>/content", api.AssetContentView.as_view(), name="asset-content"),
    path("assets/<str:asset_id>/content/<path:member>", api.AssetMemberView.as_view(), name="asset-member"),
    path("jobs", api.JobListView.as_view(), name="job-list"),
    path("jobs/<str:job_id>", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<str:job_id>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<str:job_id>/retry", api.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<str:job_id>/events", api.JobEventsView.as_view(), name="job-events"),
    path("jobs/<str:job_id>/deliveries", api_batches.JobDeliveriesView.as_view(), name="job-deliveries"),
    path("batches", api_batches.BatchListView.as_view(), name="batch-list"),
    path("batches/<str:batch_id>", api_batches.BatchDetailView.as_view(), name="batch-detail"),
    path("batches/<str:batch_id>/cancel", api_batches.BatchCancelView.as_view(), name="batch-cancel"),
    path("webhooks", api_batches.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/secret", api_batches.WebhookSecretView.as_view(), name="webhook-secret"),
    path("webhooks/secret/rotate", api_batches.WebhookSecretRotateView.as_view(), name="webhook-secret-rotate"),
    path(
        "webhooks/deliveries/<str:delivery_id>/redeliver",
        api_batches.DeliveryRedeliverView.as_view(),
        name="delivery-redeliver",
    ),
    path("webhooks/<str:endpoint_id>", api_batches.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<str:endpoint_id>/deliveries", api_batches.WebhookDeliveriesView.as_view(), name="webhook-deliveries"
    ),
]
