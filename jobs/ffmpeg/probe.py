"""ffprobe: the metadata of a local media file, reduced to what Assets store."""

import json
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from django.conf import settings

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.inputs import input_args

PROBE_TIMEOUT = 60
_IMAGE_CODECS = {"png", "mjpeg", "jpeg2000", "webp", "bmp", "tiff", "svg"}
_SUBTITLE_FORMATS = {"srt", "webvtt", "ass"}


@dataclass
class MediaInfo:
    kind: str
    probe: dict = field(default_factory=dict)
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str = ""
    audio_codec: str = ""


def _rate(value: str | None) -> float | None:
    try:
        rate = Fraction(value or "0/0")
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate else None


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def run_ffprobe(path: Path) -> dict:
    """The ffprobe JSON of a local file; a file ffprobe cannot read raises MediaError('unreadable_media')."""
    cmd = [
        settings.MEDIAHUB_FFPROBE,
        "-v",
        "error",
        *input_args(),
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(path),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError("probe_timeout", "Reading the file's metadata took too long.") from None
    if done.returncode != 0:
        raise MediaError(
            "unreadable_media",
            "The file is not a media file FFmpeg can read.",
            detail=done.stderr.decode(errors="replace")[-500:],
        )
    probe = json.loads(done.stdout or b"{}")
    probe.get("format", {}).pop("filename", None)  # our server path, not the user's business
    return probe


def describe(probe: dict) -> MediaInfo:
    streams = probe.get("streams", [])
    fmt = probe.get("format", {})
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(fmt.get("duration"))
    info = MediaInfo(kind="data", probe=probe, duration=duration)
    if audio:
        info.audio_codec = audio.get("codec_name", "")
    if video:
        info.video_codec = video.get("codec_name", "")
        info.width, info.height = video.get("width"), video.get("height")
        format_name = fmt.get("format_name", "")
        is_image = info.video_codec in _IMAGE_CODECS and (format_name == "image2" or format_name.endswith("_pipe"))
        if is_image and not audio:
            info.kind, info.duration = "image", None
        else:
            info.kind = "video"
            info.fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
    elif audio:
        info.kind = "audio"
    elif fmt.get("format_name") in _SUBTITLE_FORMATS:
        info.kind = "subtitle"
    return info


def probe_file(path: Path) -> MediaInfo:
    """Metadata of a file; anything ffprobe cannot read is `kind=data` (media jobs then refuse it)."""
    try:
        return describe(run_ffprobe(path))
    except MediaError:
        return MediaInfo(kind="data")
