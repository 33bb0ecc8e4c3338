"""Re-encrypt every stored secret with the newest MEDIAHUB_ENCRYPTION_KEYS key (put it first, run this, then
drop the old keys)."""

from django.core.management.base import BaseCommand

from keys.services import secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt provider credentials and webhook secrets with the first key of MEDIAHUB_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        counts = secrets_reencrypt()
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count} re-encrypted")
