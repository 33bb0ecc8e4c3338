from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "Keys"

    def ready(self):
        from keys import schema  # noqa: F401  (registers the OpenAPI security scheme)
