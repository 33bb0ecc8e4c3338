from django.apps import AppConfig


class MediahubConfig(AppConfig):
    name = "mediahub"

    def ready(self):
        from mediahub import checks  # noqa: F401  (registers the system checks)
