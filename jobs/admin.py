from django.contrib import admin, messages

from jobs.models import Asset, Job, JobInput
from jobs.services.jobs import job_cancel, job_retry
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
    readonly_fields = ["asset", "position"]
    can_delete = False


def _apply(modeladmin, request, queryset, service, verb):
    done = 0
    for job in queryset:
        try:
            service(job=job)
            done += 1
        except AppError as exc:
            modeladmin.message_user(request, f"{job.id}: {exc.message}", messages.WARNING)
    modeladmin.message_user(request, f"{verb} {done} job(s).")


@admin.action(description="Cancel selected jobs")
def cancel_jobs(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, job_cancel, "Cancelled")


@admin.action(description="Retry selected jobs")
def retry_jobs(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, job_retry, "Re-queued")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "operation", "owner", "status", "progress", "stage", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "operation", "priority"]
    search_fields = ["id", "owner__username", "idempotency_key"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobInputInline]
    actions = [cancel_jobs, retry_jobs]
    date_hierarchy = "created_at"
