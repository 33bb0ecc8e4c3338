from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "AI providers"

    def ready(self):
        from providers import adapters

        adapters.register_checks()
