"""The dashboard's generation forms: the playground's request, the gallery's filters and the usage range.

The playground form only shapes the request body; the `generate` operation checks it against the model, and its
field paths (`params.duration`, `params.fallback.1`) are put back next to the inputs they are about."""

import json
import re
from datetime import timedelta

from django import forms

from providers import catalog
from providers.models import STATUS_FROM_JOB

FALLBACK_ROWS = 3
MAX_USAGE_DAYS = 366  # one bar a day stays readable up to a year
IMAGE_HINTS = {
    "none": "This model starts from the prompt alone.",
    "optional": "Optional: the video starts from this picture.",
    "required": "Required: this model animates a picture.",
}
_FALLBACK_PATH = re.compile(r"^fallback\.(\d+)$")


def model_value(provider: str, model: str) -> str:
    """One select value for a provider's model (provider names never hold a slash; model ids may)."""
    return f"{provider}/{model}"


def _asset_label(asset) -> str:
    size = f", {asset.width}×{asset.height}" if asset.width else ""
    return f"{asset.name} ({asset.id}{size})"


def _default_duration(provider: dict, model: dict) -> int:
    info = catalog.model_info(provider["name"], model["id"])
    return catalog.fit(info, duration=None, aspect_ratio=None, resolution=None)["duration"]


def estimate_text(price_per_second: float, seconds: int) -> str:
    """The estimate as the page shows it (playground.js writes the same words when the model changes)."""
    return f"{price_per_second * seconds:.2f} USD ({seconds} s × {price_per_second:g} USD/s)"


class GenerationForm(forms.Form):
    prompt = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))
    model = forms.ChoiceField(label="Provider and model")
    duration = forms.IntegerField(required=False, label="Duration (s)", widget=forms.Select)
    aspect_ratio = forms.CharField(required=False, max_length=5, label="Aspect ratio", widget=forms.Select)
    resolution = forms.CharField(required=False, max_length=8, widget=forms.Select)
    image = forms.ChoiceField(required=False, label="Start image")
    negative_prompt = forms.CharField(
        max_length=2000, required=False, label="Avoid", widget=forms.Textarea(attrs={"rows": 2})
    )
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**32 - 1)

    def __init__(self, *args, providers: list[dict], working: set[str], images, **kwargs):
        super().__init__(*args, **kwargs)
        self.providers = providers
        self.models = {
            model_value(provider["name"], model["id"]): model | {"default_duration": _default_duration(provider, model)}
            for provider in providers
            for model in provider["models"]
        }
        self.fields["model"].choices = [
            (
                provider["label"] + ("" if provider["name"] in working else " (no working key)"),
                [(model_value(provider["name"], model["id"]), model["label"]) for model in provider["models"]],
            )
            for provider in providers
        ]
        usable = [provider for provider in providers if provider["name"] in working] or providers
        self.fields["model"].initial = model_value(usable[0]["name"], usable[0]["default_model"])
        self.fields["image"].choices = [("", "None: from the prompt")] + [(a.id, _asset_label(a)) for a in images]
        fallbacks = [("", "—")] + [
            (p["name"], p["label"] + ("" if p["name"] in working else " (no working key)")) for p in providers
        ]
        for row in range(FALLBACK_ROWS):
            self.fields[f"fallback_{row}"] = forms.ChoiceField(
                choices=fallbacks, required=False, label=f"Fallback {row + 1}"
            )
        self.fallback_rows: list[int] = []  # request fallback index → form row
        self._offer_the_models_settings()

    # --- what the page shows -------------------------------------------------------------------------------

    @property
    def current(self) -> dict:
        """The chosen model's catalog entry (the default one until a valid choice is posted)."""
        chosen = self.data.get("model") if self.is_bound else self.initial.get("model")
        return self.models.get(chosen) or self.models[self.fields["model"].initial]

    def _offer_the_models_settings(self) -> None:
        """The selects list what the chosen model makes; a posted value it does not make stays shown, with its
        error beside it."""
        model = self.current
        options = {
            "duration": [(str(d), str(d)) for d in model["durations"]],
            "aspect_ratio": [(r, r) for r in model["aspect_ratios"]],
            "resolution": [(r, r) for r in model["resolutions"]] or [("", "Provider decides")],
        }
        for name, choices in options.items():
            posted = self.data.get(name) if self.is_bound else None
            if posted and posted not in dict(choices):
                choices.append((posted, posted))
            self.fields[name].widget.choices = choices
        if not self.is_bound:
            self.initial.setdefault("duration", model["default_duration"])
            ratio = catalog.DEFAULT_ASPECT_RATIO
            self.initial.setdefault("aspect_ratio", ratio if ratio in model["aspect_ratios"] else None)
        self.fields["image"].disabled = model["image"] == "none"

    def models_json(self) -> str:
        """What playground.js needs to offer each model's settings and estimate its cost."""
        return json.dumps(
            {
                value: {
                    "durations": model["durations"],
                    "default_duration": model["default_duration"],
                    "aspect_ratios": model["aspect_ratios"],
                    "resolutions": model["resolutions"],
                    "image": model["image"],
                    "image_hint": IMAGE_HINTS[model["image"]],
                    "price_per_second": model["price_per_second"],
                }
                for value, model in self.models.items()
            }
        )

    def image_hint(self) -> str:
        return IMAGE_HINTS[self.current["image"]]

    def estimate(self) -> str:
        model = self.current
        try:
            seconds = int(self["duration"].value() or model["default_duration"])
        except ValueError:
            seconds = model["default_duration"]
        return estimate_text(model["price_per_second"], seconds)

    def fallback_fields(self) -> list:
        return [self[f"fallback_{row}"] for row in range(FALLBACK_ROWS)]

    # --- the request ---------------------------------------------------------------------------------------

    def body(self) -> dict:
        """The generation request the inputs describe (empty settings are left to the model's defaults)."""
        data = self.cleaned_data
        provider, _, model = data["model"].partition("/")
        body = {"provider": provider, "model": model, "prompt": data["prompt"]}
        for name in ("duration", "aspect_ratio", "resolution", "image", "negative_prompt", "seed"):
            if data.get(name) not in (None, ""):
                body[name] = data[name]
        self.fallback_rows = [row for row in range(FALLBACK_ROWS) if data[f"fallback_{row}"]]
        if self.fallback_rows:
            body["fallback"] = [data[f"fallback_{row}"] for row in self.fallback_rows]
        return body

    def field_for(self, path: str) -> str | None:
        """The input an error path is about, or None (the error then goes above the form)."""
        name = path.removeprefix("params.")
        if name in ("provider", "model"):
            return "model"
        match = _FALLBACK_PATH.match(name)
        if match:
            index = int(match[1])
            return f"fallback_{self.fallback_rows[index]}" if index < len(self.fallback_rows) else None
        if name == "fallback":
            return "fallback_0"
        return name if name in self.fields else None

    def add_service_errors(self, exc) -> None:
        """An AppError's field errors next to their inputs; the rest (and a plain message) above the form."""
        for path, messages in (exc.fields or {"": [exc.message]}).items():
            field = self.field_for(path) if path else None
            for message in messages:
                self.add_error(field, message if field or not path else f"{path}: {message}")


class GalleryFilterForm(forms.Form):
    provider = forms.ChoiceField(required=False)
    model = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status")] + [(s, s) for s in STATUS_FROM_JOB.values()]
    )

    def __init__(self, *args, providers: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [("", "Any provider")] + [(p["name"], p["label"]) for p in providers]
        self.fields["model"].choices = [("", "Any model")] + [
            (p["label"], [(m["id"], m["label"]) for m in p["models"]]) for p in providers
        ]

    def filter(self, generations):
        """`generations` narrowed by the valid filters (an invalid one is shown with its error, not applied)."""
        wanted = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}
        if "provider" in wanted:
            generations = generations.filter(provider=wanted["provider"])
        if "model" in wanted:
            generations = generations.filter(model=wanted["model"])
        if "status" in wanted:
            job_status = {name: status for status, name in STATUS_FROM_JOB.items()}[wanted["status"]]
            generations = generations.filter(job__status=job_status)
        return generations


class UsageRangeForm(forms.Form):
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "Pick a day on or after the first one.")
            elif end - start >= timedelta(days=MAX_USAGE_DAYS):
                self.add_error("end", f"Pick at most {MAX_USAGE_DAYS} days.")
        return data
