"""The dashboard's highlight-clips form: it shapes the `highlights` params; the operation validates them, and its
field paths (`captions.style`, `max_duration`) come back next to the inputs they are about."""

from django import forms

from compositions.highlights.captions import STYLES
from compositions.spec import ASPECTS

# A params path → the form input it is about.
PATHS = {"input": "asset", "captions.style": "style", "captions.max_words": "max_words"}


def _choices(values) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class ClipsForm(forms.Form):
    asset = forms.ChoiceField(label="Video")
    count = forms.IntegerField(min_value=1, max_value=10, initial=3, label="Clips")
    min_duration = forms.FloatField(min_value=3, initial=15, label="Shortest (s)")
    max_duration = forms.FloatField(min_value=5, initial=60, label="Longest (s)")
    aspect_ratio = forms.ChoiceField(choices=_choices(a for a in ASPECTS if a != "16:9"), initial="9:16",
                                     label="Aspect ratio")  # fmt: skip
    style = forms.ChoiceField(choices=_choices(STYLES), initial="bold", label="Caption style")
    max_words = forms.IntegerField(min_value=1, max_value=8, initial=3, label="Words per caption line")
    title = forms.CharField(max_length=120, required=False, label="Title (drawn for the first 4 s)")
    remove_fillers = forms.BooleanField(required=False, label="Cut um and uh")
    max_silence = forms.FloatField(min_value=0.2, max_value=5, required=False, label="Shorten pauses to (s)")

    def __init__(self, *args, assets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = [
            (asset.id, f"{asset.name} ({asset.duration or 0:.0f} s, {asset.id})") for asset in assets
        ]

    def params(self) -> dict:
        data = self.cleaned_data
        params = {
            "count": data["count"],
            "min_duration": data["min_duration"],
            "max_duration": data["max_duration"],
            "aspect_ratio": data["aspect_ratio"],
            "captions": {"style": data["style"], "max_words": data["max_words"]},
            "remove_fillers": data["remove_fillers"],
        }
        if data["title"].strip():
            params["title"] = data["title"].strip()
        if data["max_silence"] is not None:
            params["max_silence"] = data["max_silence"]
        return params

    def add_service_errors(self, exc) -> None:
        """An AppError's field errors next to their inputs; the rest (and a plain message) above the form."""
        for path, messages in (exc.fields or {"": [exc.message]}).items():
            field = PATHS.get(path, path)
            for message in messages:
                if field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, f"{path}: {message}" if path else message)
