import functools
import json

from django.apps import AppConfig
from django.db.models.signals import post_save

ADMIN_ACTIONS = {1: "add", 2: "change", 3: "delete"}  # LogEntry.action_flag: ADDITION, CHANGE, DELETION


def audit_log_entry(entry) -> None:
    """Record a Django admin LogEntry (an add, change or delete by a staff user) as an AuditEvent."""
    from keys.models import AuditEvent

    if getattr(entry, "_audited", False):
        return
    entry._audited = True
    content_type = entry.content_type
    model = f"{content_type.app_label}.{content_type.model}" if content_type else "unknown"
    try:
        changes = json.loads(entry.change_message) if entry.change_message else []
    except ValueError:
        changes = entry.change_message
    AuditEvent.objects.create(
        actor_id=entry.user_id,
        action=f"admin.{ADMIN_ACTIONS.get(entry.action_flag, entry.action_flag)}",
        target=f"{model}:{entry.object_id}"[:64],
        # The object's name and which fields changed (names only, never values).
        details={"object": entry.object_repr, "changes": changes},
        created_at=entry.action_time,
    )


def _on_log_entry_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        audit_log_entry(instance)


def _audit_bulk_log_entries() -> None:
    """LogEntryManager.log_actions() bulk-creates the entries when several objects are deleted at once, and
    bulk_create sends no post_save: record those entries too."""
    from django.contrib.admin.models import LogEntryManager

    original = LogEntryManager.log_actions
    if getattr(original, "_keys_audited", False):
        return

    @functools.wraps(original)
    def log_actions(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if isinstance(result, list):
            for entry in result:
                audit_log_entry(entry)  # no-op for the ones post_save already recorded
        return result

    log_actions._keys_audited = True
    LogEntryManager.log_actions = log_actions


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "Keys"

    def ready(self):
        from django.contrib.admin.models import LogEntry

        from keys import schema  # noqa: F401  (registers the OpenAPI security scheme)

        post_save.connect(_on_log_entry_saved, sender=LogEntry, dispatch_uid="keys.audit_log_entry")
        _audit_bulk_log_entries()
