from jobs.models.assets import Asset, asset_upload_to
from jobs.models.batches import Batch
from jobs.models.jobs import Job, JobInput
from jobs.models.webhooks import EVENT_TYPES, WebhookDelivery, WebhookEndpoint, WebhookSecret

__all__ = [
    "EVENT_TYPES",
    "Asset",
    "Batch",
    "Job",
    "JobInput",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookSecret",
    "asset_upload_to",
]
