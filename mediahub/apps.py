from django.apps import AppConfig

from mediahub.db import register_fork_hook


class MediahubConfig(AppConfig):
    name = "mediahub"

    def ready(self):
        from mediahub import checks  # noqa: F401  (registers the system checks)

        register_fork_hook()
