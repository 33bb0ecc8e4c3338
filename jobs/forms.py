from django import forms

FORMATS = [
    ("mp4", "MP4 (H.264/AAC)"),
    ("webm", "WebM (VP9/Opus)"),
    ("mov", "MOV (H.264/AAC)"),
    ("mkv", "MKV (H.264/AAC)"),
]
RESOLUTIONS = [("", "Keep size"), ("1080p", "1080p"), ("720p", "720p"), ("480p", "480p"), ("360p", "360p")]


class TranscodeForm(forms.Form):
    file = forms.FileField(label="Video file")
    format = forms.ChoiceField(choices=FORMATS, initial="mp4")
    resolution = forms.ChoiceField(choices=RESOLUTIONS, required=False)
    quality = forms.ChoiceField(choices=[("medium", "Medium"), ("high", "High"), ("low", "Low")], initial="medium")


class OperationForm(forms.Form):
    """Any operation of the catalog on assets the user already has, with params as JSON."""

    operation = forms.ChoiceField()
    inputs = forms.MultipleChoiceField(help_text="In order; most operations take one.")
    params = forms.JSONField(initial=dict, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    priority = forms.IntegerField(min_value=0, max_value=9, initial=0)

    def __init__(self, *args, assets, operations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operation"].choices = [(name, name) for name in operations]
        self.fields["inputs"].choices = [(asset.id, f"{asset.name} ({asset.kind}, {asset.id})") for asset in assets]

    def clean_params(self):
        params = self.cleaned_data["params"] or {}
        if not isinstance(params, dict):
            raise forms.ValidationError('Params are a JSON object, like {"height": 480}.')
        return params
