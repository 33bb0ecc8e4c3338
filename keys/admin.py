from django.contrib import admin

from keys.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "prefix", "expires_at", "revoked_at", "last_used_at", "last_used_ip"]
    list_filter = ["revoked_at"]
    search_fields = ["id", "name", "owner__username", "prefix"]
    # Only the visible prefix is shown; the hash stays out of the admin entirely.
    fields = ["id", "owner", "name", "prefix", "expires_at", "revoked_at", "last_used_at", "last_used_ip", "created_at"]
    readonly_fields = ["id", "prefix", "last_used_at", "last_used_ip", "created_at"]

    def has_add_permission(self, request):
        return False  # keys are created where the secret can be shown once: the API, the CLI or the dashboard
