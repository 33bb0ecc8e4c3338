"""Admin for generations (read-only: they change only through their job) and users' monthly budgets."""

from django.contrib import admin

from providers.models import Budget, Generation


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "provider", "model", "status", "cost", "generation_time", "created_at"]
    list_filter = ["provider", "model", "job__status"]
    list_select_related = ["owner", "job"]
    search_fields = ["id", "prompt", "owner__username", "provider_task_id"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "owner", "job", "provider", "model", "prompt", "image", "provider_task_id", "credential",
                       "tried", "estimated_cost", "cost", "duration_seconds", "width", "height", "generation_time",
                       "submitted_at", "created_at"]  # fmt: skip
    exclude = ["idempotency_key", "request_fingerprint"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["owner", "monthly_usd"]
    list_select_related = ["owner"]
    search_fields = ["owner__username"]
    autocomplete_fields = ["owner"]
