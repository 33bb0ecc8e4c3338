"""What each provider's models accept and cost, and how one request is fitted to a model."""

from decimal import Decimal

from django.conf import settings

from providers.adapters import ADAPTERS, get_adapter
from providers.adapters.base import ModelInfo

DEFAULT_ASPECT_RATIO = "16:9"


def price_per_second(provider: str, model: str) -> Decimal:
    """USD per output second: MEDIAHUB_PROVIDERS[provider]["prices"][model], else the adapter's list price."""
    configured = settings.MEDIAHUB_PROVIDERS.get(provider, {}).get("prices", {})
    if model in configured:
        return Decimal(str(configured[model]))
    return Decimal(str(get_adapter(provider).models[model].price_per_second))


def cost(provider: str, model: str, seconds: float) -> Decimal:
    return (price_per_second(provider, model) * Decimal(str(seconds))).quantize(Decimal("0.0001"))


def model_info(provider: str, model: str) -> ModelInfo | None:
    return get_adapter(provider).models.get(model) if provider in ADAPTERS else None


def providers_catalog() -> list[dict]:
    """Every provider with its models, capabilities and prices (GET /api/v1/providers without the per-user part)."""
    listed = []
    for name in ADAPTERS:
        adapter = get_adapter(name)
        models = [
            {
                "id": info.id,
                "label": info.label,
                "durations": list(info.durations),
                "aspect_ratios": list(info.aspect_ratios),
                "resolutions": list(info.resolutions),
                "text_to_video": info.text,
                "image_to_video": info.image != "none",
                "image": info.image,
                "price_per_second": float(price_per_second(name, info.id)),
            }
            for info in adapter.models.values()
        ]
        listed.append(
            {
                "name": name,
                "label": adapter.label,
                "default_model": adapter.default_model,
                "needs_credential": adapter.needs_credential,
                "capabilities": {
                    "text_to_video": any(m["text_to_video"] for m in models),
                    "image_to_video": any(m["image_to_video"] for m in models),
                },
                "models": models,
            }
        )
    return listed


def fit(info: ModelInfo, *, duration: int | None, aspect_ratio: str | None, resolution: str | None) -> dict:
    """The nearest settings this model makes: a fallback provider gets the request as close as it can."""
    if duration is None:
        duration = info.default_duration or info.durations[0]
    else:
        duration = min(info.durations, key=lambda allowed: (abs(allowed - duration), allowed))
    wanted = aspect_ratio or DEFAULT_ASPECT_RATIO
    ratio = wanted if wanted in info.aspect_ratios else info.aspect_ratios[0]
    chosen = resolution if resolution in info.resolutions else (info.resolutions[0] if info.resolutions else "")
    return {"duration": duration, "aspect_ratio": ratio, "resolution": chosen}


def request_errors(info: ModelInfo, *, duration, aspect_ratio, resolution, has_image: bool) -> dict[str, list[str]]:
    """Field errors for a request the model cannot make as asked."""
    errors = {}
    if duration is not None and duration not in info.durations:
        allowed = ", ".join(str(d) for d in info.durations)
        errors["duration"] = [f"{info.id} makes videos of {allowed} seconds."]
    if aspect_ratio and aspect_ratio not in info.aspect_ratios:
        errors["aspect_ratio"] = [f"{info.id} supports {', '.join(info.aspect_ratios)}."]
    if resolution and resolution not in info.resolutions:
        allowed = ", ".join(info.resolutions) or "no choice of resolution (the provider decides)"
        errors["resolution"] = [f"{info.id} supports {allowed}."]
    if has_image and info.image == "none":
        errors["image"] = [f"{info.id} does not take a start image."]
    if not has_image and not info.text:
        errors["image"] = [f"{info.id} needs a start image (image-to-video only)."]
    return errors
