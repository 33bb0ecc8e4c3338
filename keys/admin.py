"""Admin for API keys, provider keys and the audit log. Secrets never appear here: keys show their visible
prefix (never the hash), provider keys their last 4 characters (never the encrypted blob). Revocations go
through the services, so they are audited with the staff user and their address."""

from django.contrib import admin, messages

from keys.audit import Actor
from keys.models import ApiKey, AuditEvent, ProviderCredential
from keys.services import apikey_revoke, provider_credential_revoke


def _revoke(modeladmin, request, queryset, revoke, noun: str):
    by = Actor.of(request)
    done = 0
    for obj in queryset:
        revoke(obj, by)
        done += 1
    modeladmin.message_user(request, f"Revoked {done} {noun}.", messages.SUCCESS)


@admin.action(description="Revoke selected API keys")
def revoke_keys(modeladmin, request, queryset):
    _revoke(modeladmin, request, queryset, lambda key, by: apikey_revoke(key=key, by=by), "API key(s)")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "masked", "scope_list", "networks", "status", "expires_at", "last_used_at",
                    "last_used_ip"]  # fmt: skip
    list_filter = ["revoked_at", "expires_at"]
    list_select_related = ["owner"]
    search_fields = ["id", "name", "owner__username", "prefix"]
    # Only the visible prefix is shown; the hashes stay out of the admin entirely. Scopes and networks are
    # checked by the services (the internal scope is for staff only), so they are read-only here.
    fields = ["id", "owner", "name", "masked", "scope_list", "networks", "status", "expires_at", "revoked_at",
              "rotated_at", "previous_valid_until", "last_used_at", "last_used_ip", "created_at"]  # fmt: skip
    readonly_fields = ["id", "owner", "masked", "scope_list", "networks", "status", "revoked_at", "rotated_at",
                       "previous_valid_until", "last_used_at", "last_used_ip", "created_at"]  # fmt: skip
    actions = [revoke_keys]
    date_hierarchy = "created_at"

    @admin.display(description="key", ordering="prefix")
    def masked(self, key):
        return f"{key.prefix}…"

    @admin.display(description="scopes")
    def scope_list(self, key):
        return ", ".join(key.scopes)

    @admin.display(description="allowed networks")
    def networks(self, key):
        return ", ".join(key.allowed_networks) or "any"

    @admin.display(description="status")
    def status(self, key):
        if key.revoked_at:
            return "revoked"
        return "active" if key.is_active else "expired"

    def has_add_permission(self, request):
        return False  # keys are created where the secret can be shown once: the API, the CLI or the dashboard


@admin.action(description="Revoke selected provider keys (deletes their secrets)")
def revoke_credentials(modeladmin, request, queryset):
    _revoke(
        modeladmin,
        request,
        queryset,
        lambda credential, by: provider_credential_revoke(credential=credential, by=by),
        "provider key(s)",
    )


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "provider", "label", "masked", "status", "last_validated_at", "created_at"]
    list_filter = ["provider", "status"]
    list_select_related = ["owner"]
    search_fields = ["id", "label", "owner__username"]
    # Never `secret_encrypted`: neither the blob nor anything decrypted from it.
    fields = ["id", "owner", "provider", "label", "masked", "status", "status_message", "last_validated_at",
              "created_at", "revoked_at"]  # fmt: skip
    readonly_fields = ["id", "owner", "provider", "masked", "status", "status_message", "last_validated_at",
                       "created_at", "revoked_at"]  # fmt: skip
    actions = [revoke_credentials]
    date_hierarchy = "created_at"

    @admin.display(description="key")
    def masked(self, credential):
        return credential.masked

    def has_add_permission(self, request):
        return False  # secrets are entered by their owners, on the dashboard or through the API


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, read-only: nobody adds, edits or deletes events here."""

    list_display = ["created_at", "actor", "api_key", "action", "target", "ip", "details"]
    list_filter = ["action"]
    list_select_related = ["actor", "api_key"]
    search_fields = ["actor__username", "target"]
    date_hierarchy = "created_at"
    fields = ["created_at", "actor", "api_key", "action", "target", "ip", "details"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
