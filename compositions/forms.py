"""The dashboard's composition form: a few clip rows, music, one text overlay and the output, or a pasted spec.

The form only shapes the spec; compositions.services validates it, and its field paths (`clips.2.end_time`) are
put back next to the inputs they are about."""

import re
import typing

from django import forms

from compositions.spec import ASPECTS, POSITIONS, RESOLUTIONS, TRANSITIONS

ROWS = 5
CLIP_FIELDS = ("asset", "start", "end", "duration", "in", "transition", "transition_duration")
# A spec path inside clips.N → the row's input for it.
CLIP_PATHS = {
    "asset": "asset",
    "image": "asset",
    "video_url": "asset",
    "start_time": "start",
    "end_time": "end",
    "duration": "duration",
    "in": "in",
    "trim_start": "in",
    "transition": "transition",
    "transition.type": "transition",
    "transition.duration": "transition_duration",
}
OVERLAY_PATHS = {
    "text": "overlay_text",
    "position": "overlay_position",
    "start_time": "overlay_start",
    "end_time": "overlay_end",
    "font_size": "overlay_font_size",
    "font_color": "overlay_font_color",
}
AUDIO_PATHS = {"music_asset": "music_asset", "music_volume": "music_volume"}
_CLIP_PATH = re.compile(r"^clips\.(\d+)\.(.+)$")
_OVERLAY_PATH = re.compile(r"^overlays\.0\.(?:text\.)?(.+)$")


def _choices(values) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


def _asset_label(asset) -> str:
    duration = f", {asset.duration:.1f} s" if asset.duration else ""
    return f"{asset.name} ({asset.kind}{duration}, {asset.id})"


class CompositionForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    spec_json = forms.JSONField(
        required=False,
        label="Or paste a spec (JSON)",
        help_text="A whole spec as in the API; when given, the inputs above are not used.",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    music_asset = forms.ChoiceField(required=False, label="Music")
    music_volume = forms.FloatField(required=False, initial=1.0, label="Music volume")
    overlay_text = forms.CharField(max_length=500, required=False, label="Text")
    overlay_position = forms.ChoiceField(
        choices=_choices(typing.get_args(POSITIONS)), initial="bottom", required=False, label="Position"
    )
    overlay_start = forms.FloatField(required=False, label="From (s)")
    overlay_end = forms.FloatField(required=False, label="To (s)", help_text="Empty: to the end.")
    overlay_font_size = forms.IntegerField(required=False, initial=48, label="Font size")
    overlay_font_color = forms.CharField(
        required=False, initial="#ffffff", label="Colour", widget=forms.TextInput(attrs={"type": "color"})
    )
    output_format = forms.ChoiceField(choices=_choices(("mp4", "mov", "webm")), initial="mp4", required=False)
    output_resolution = forms.ChoiceField(choices=_choices(RESOLUTIONS), initial="720p", required=False)
    output_aspect_ratio = forms.ChoiceField(choices=_choices(ASPECTS), initial="16:9", required=False)
    output_quality = forms.ChoiceField(choices=_choices(("low", "medium", "high")), initial="medium", required=False)

    def __init__(self, *args, clip_assets, music_assets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["music_asset"].choices = [("", "No music")] + [(a.id, _asset_label(a)) for a in music_assets]
        clip_choices = [("", "—")] + [(a.id, _asset_label(a)) for a in clip_assets]
        transitions = [("", "Cut")] + _choices(typing.get_args(TRANSITIONS))
        for row in range(ROWS):
            number = row + 1
            self.fields[f"clip_{row}_asset"] = forms.ChoiceField(
                choices=clip_choices, required=False, label=f"Clip {number}"
            )
            for name, label in (("start", "Start"), ("end", "End"), ("duration", "Duration"), ("in", "In")):
                self.fields[f"clip_{row}_{name}"] = forms.FloatField(
                    required=False, label=f"{label} of clip {number}", widget=forms.NumberInput(attrs={"step": "any"})
                )
            self.fields[f"clip_{row}_transition"] = forms.ChoiceField(
                choices=transitions, required=False, label=f"Transition after clip {number}"
            )
            self.fields[f"clip_{row}_transition_duration"] = forms.FloatField(
                required=False,
                label=f"Transition length after clip {number}",
                widget=forms.NumberInput(attrs={"step": "any", "placeholder": "0.5"}),
            )
        for name, field in self.fields.items():
            if name.startswith("clip_"):  # the rows' inputs sit in table cells without a <label>
                field.widget.attrs.setdefault("aria-label", field.label)
        self.rows_used: list[int] = []  # spec clip index → form row

    def clip_rows(self) -> list[dict]:
        """The rows' bound fields, for the template."""
        return [
            {"number": row + 1, **{name: self[f"clip_{row}_{name}"] for name in CLIP_FIELDS}} for row in range(ROWS)
        ]

    @property
    def from_json(self) -> bool:
        return self.cleaned_data.get("spec_json") not in (None, "", {})

    def clean_spec_json(self):
        value = self.cleaned_data["spec_json"]
        if value not in (None, "") and not isinstance(value, dict):
            raise forms.ValidationError('A spec is a JSON object: {"clips": [...], ...}.')
        return value

    def clean(self):
        data = super().clean()
        if not self.errors and not self.from_json and not any(data.get(f"clip_{r}_asset") for r in range(ROWS)):
            raise forms.ValidationError("Pick at least one clip, or paste a spec.")
        return data

    def spec(self) -> dict:
        """The composition body the inputs describe (rows without an asset are left out)."""
        data = self.cleaned_data
        if self.from_json:
            body = dict(data["spec_json"])
            if data["title"] and "title" not in body:
                body["title"] = data["title"]
            return body
        clips, self.rows_used = [], []
        for row in range(ROWS):
            get = lambda name, row=row: data.get(f"clip_{row}_{name}")  # noqa: E731
            if not get("asset"):
                continue
            clip = {"asset": get("asset")}
            for name, key in (("start", "start_time"), ("end", "end_time"), ("duration", "duration"), ("in", "in")):
                if get(name) is not None:
                    clip[key] = get(name)
            if get("transition"):
                clip["transition"] = {"type": get("transition")}
                if get("transition_duration") is not None:
                    clip["transition"]["duration"] = get("transition_duration")
            clips.append(clip)
            self.rows_used.append(row)
        body = {"title": data["title"], "clips": clips}
        if data["music_asset"]:
            body["audio"] = {"music_asset": data["music_asset"]}
            if data["music_volume"] is not None:
                body["audio"]["music_volume"] = data["music_volume"]
        if data["overlay_text"]:
            overlay = {"type": "text", "text": data["overlay_text"], "position": data["overlay_position"] or "bottom"}
            for name, key in (("start", "start_time"), ("end", "end_time"), ("font_size", "font_size")):
                if data[f"overlay_{name}"] is not None:
                    overlay[key] = data[f"overlay_{name}"]
            if data["overlay_font_color"]:
                overlay["font_color"] = data["overlay_font_color"].upper()
            body["overlays"] = [overlay]
        body["output"] = {
            name: data[f"output_{name}"] or self.fields[f"output_{name}"].initial
            for name in ("format", "resolution", "aspect_ratio", "quality")
        }
        return body

    def field_for(self, path: str) -> str | None:
        """The input a spec path is about, or None (the error then goes above the form)."""
        if self.from_json:
            return None
        match = _CLIP_PATH.match(path)
        if match:
            index, rest = int(match[1]), match[2]
            if index >= len(self.rows_used) or rest not in CLIP_PATHS:
                return None
            row, name = self.rows_used[index], CLIP_PATHS[rest]
            if name == "end" and self.cleaned_data.get(f"clip_{row}_end") is None:
                name = "duration"  # the timeline's errors name end_time also for a length given as duration
            return f"clip_{row}_{name}"
        match = _OVERLAY_PATH.match(path)
        if match:
            return OVERLAY_PATHS.get(match[1])
        if path.startswith("audio."):
            return AUDIO_PATHS.get(path.removeprefix("audio."))
        if path.startswith("output."):
            name = "output_" + path.removeprefix("output.")
            return name if name in self.fields else None
        return "title" if path == "title" else None

    def label_for(self, path: str) -> str:
        """A spec path in the words of the form, for errors shown above it."""
        match = _CLIP_PATH.match(path)
        if match and not self.from_json and int(match[1]) < len(self.rows_used):
            return f"Clip {self.rows_used[int(match[1])] + 1}, {match[2]}"
        return path

    def add_service_errors(self, exc) -> None:
        """An AppError's field errors next to their inputs; the rest (and a plain message) above the form."""
        for path, messages in (exc.fields or {"": [exc.message]}).items():
            field = self.field_for(path) if path else None
            for message in messages:
                if field is not None:
                    self.add_error(field, message)
                else:
                    self.add_error(None, f"{self.label_for(path)}: {message}" if path else message)
