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
