"""The adapter registry: provider name → adapter. Each adapter speaks one provider's documented API."""

from functools import cache

from django.utils.module_loading import import_string

from keys.provider_checks import register
from providers.adapters.base import Adapter

ADAPTERS = {
    "runway": "providers.adapters.runway.Runway",
    "kling": "providers.adapters.kling.Kling",
    "openai": "providers.adapters.openai.OpenAIVideos",
    "luma": "providers.adapters.luma.Luma",
    "replicate": "providers.adapters.replicate.Replicate",
    "local": "providers.adapters.local.Local",
}


@cache
def get_adapter(name: str) -> Adapter:
    return import_string(ADAPTERS[name])()


def register_checks() -> None:
    """Let keys' "validate" endpoint reach each adapter's cheapest real call."""
    for name in ADAPTERS:
        register(name)(lambda parts, name=name: get_adapter(name).validate(parts))
