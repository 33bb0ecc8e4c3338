from django.contrib import admin, messages

from jobs.models import Asset, Batch, Job, JobInput, WebhookDelivery, WebhookEndpoint
from jobs.selectors import batch_summary
from jobs.services.jobs import job_cancel, job_retry
from jobs.services.webhooks import delivery_redeliver
from keys.audit import Actor, audit_record
from mediahub.errors import AppError


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "kind", "size", "duration", "width", "height", "source", "created_at"]
    list_filter = ["kind", "source", "video_codec", "audio_codec"]
    search_fields = ["id", "name", "owner__username", "sha256"]
    readonly_fields = [f.name for f in Asset._meta.fields]
    date_hierarchy = "created_at"


class JobInputInline(admin.TabularInline):
    model = JobInput
    extra = 0
    readonly_fields = ["asset", "position", "role"]
    can_delete = False


def _apply(modeladmin, request, queryset, action, done_message: str, audit_action: str):
    """Run a service on each selected object and audit it; refusals (AppError) are reported, not fatal."""
    done, by = 0, Actor.of(request)
    for obj in queryset:
        try:
            action(obj)
            done += 1
            audit_record(by, audit_action, obj.pk)
        except AppError as exc:
            modeladmin.message_user(request, f"{obj.pk}: {exc.message}", messages.WARNING)
    modeladmin.message_user(request, done_message.format(done))


@admin.action(description="Cancel selected jobs")
def cancel_jobs(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, lambda job: job_cancel(job=job), "Cancelled {} job(s).", "admin.job.cancel")


@admin.action(description="Retry selected jobs")
def retry_jobs(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, lambda job: job_retry(job=job), "Re-queued {} job(s).", "admin.job.retry")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "operation", "owner", "status", "progress", "stage", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "operation", "priority"]
    list_select_related = ["owner"]
    search_fields = ["id", "owner__username", "idempotency_key"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobInputInline]
    actions = [cancel_jobs, retry_jobs]
    date_hierarchy = "created_at"


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "created_at", "finished_at", "summary"]
    search_fields = ["id", "owner__username"]
    readonly_fields = [f.name for f in Batch._meta.fields]
    date_hierarchy = "created_at"

    @admin.display(description="jobs")
    def summary(self, batch):
        summary = batch_summary(batch)
        return f"{summary['status']} · {summary['progress']:.0f}% of {summary['total']}"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """The signing secret is never shown, only its last characters; the URL is changed through the API, which
    runs the SSRF check on it."""

    list_display = ["id", "owner", "url", "events", "masked_secret", "created_at"]
    search_fields = ["id", "url", "owner__username"]
    fields = ["id", "owner", "url", "events", "description", "masked_secret", "created_at"]
    readonly_fields = ["id", "owner", "url", "masked_secret", "created_at"]

    @admin.display(description="secret")
    def masked_secret(self, endpoint):
        return f"whsec_…{endpoint.secret_hint}"

    def has_add_permission(self, request):
        return False  # endpoints are made through the API, which shows the new secret once


@admin.action(description="Redeliver selected deliveries")
def redeliver(modeladmin, request, queryset):
    _apply(
        modeladmin,
        request,
        queryset,
        lambda delivery: delivery_redeliver(delivery=delivery),
        "Re-sending {}.",
        "admin.delivery.redeliver",
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "url", "owner", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event_type"]
    list_select_related = ["owner"]
    search_fields = ["id", "event_id", "url", "job__id", "owner__username"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = [redeliver]
    date_hierarchy = "created_at"
