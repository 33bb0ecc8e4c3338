from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from keys.services import apikey_create


class Command(BaseCommand):
    help = "Create an API key for a user (created when missing). The key is the last line of the output."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the key.")

    def handle(self, *args, username, name, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            self.stdout.write(f"Created user {username} (set a password with: manage.py changepassword {username})")
        key, raw = apikey_create(owner=user, name=name)
        self.stdout.write(f"API key {key.id} for {username}; it is shown only once:")
        self.stdout.write(raw)
