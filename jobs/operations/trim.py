"""trim: cut one video or audio file between two times, by stream copy (keyframe-aligned) or by re-encoding."""

import re
from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.probe import run_ffprobe
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.transcode import Preset, TranscodeParams, audio_args, scale_filter, video_args

DEFAULT_PRESET = "veryfast"
# ffprobe's format_name → the extension an output in the same container gets (MP4 and Matroska are decided by
# `container_of`); anything else is copied into Matroska, which takes any codec.
FORMAT_EXTENSIONS = {
    "mp3": "mp3",
    "ogg": "ogg",
    "wav": "wav",
    "flac": "flac",
    "aac": "aac",
    "avi": "avi",
    "flv": "flv",
    "mpegts": "ts",
    "mpeg": "mpg",
}
WEBM_CODECS = {"vp8", "vp9", "av1", "opus", "vorbis", ""}
# Containers a re-encoded video keeps (with transcode's default codecs for each); others become MP4.
VIDEO_CONTAINERS = {"mp4", "mov", "mkv", "webm"}
# Encoders for a re-encoded audio-only file, per container kept; others become M4A (AAC).
AUDIO_ENCODE = {
    "m4a": {"c:a": "aac", "b:a": "192k"},
    "mka": {"c:a": "aac", "b:a": "192k"},
    "mp3": {"c:a": "libmp3lame", "b:a": "192k"},
    "ogg": {"c:a": "libopus", "b:a": "128k"},
    "webm": {"c:a": "libopus", "b:a": "128k"},
    "flac": {"c:a": "flac"},
    "wav": {"c:a": "pcm_s16le"},
}
# A framecrc packet line: stream index, dts, pts, duration, size, checksum.
_PACKET = re.compile(r"^\s*\d+,\s*(-?\d+),\s*(-?\d+),")
_TIME_BASE = re.compile(r"^#tb \d+: (\d+)/(\d+)")
_NOPTS = -(2**63)


class TrimParams(Params):
    start: float = Field(0, ge=0, description="Seconds into the input where the cut starts.")
    end: float | None = Field(None, gt=0, description="Seconds into the input where the cut ends; default its end.")
    duration: float | None = Field(None, gt=0, description="Length of the cut in seconds, instead of end.")
    mode: Literal["copy", "accurate"] = Field(
        "accurate",
        description="copy: no re-encode, starts at the keyframe at or before start; accurate: re-encode, exact.",
    )
    preset: Preset | None = Field(None, description="Encoder speed in accurate mode; default veryfast.")

    @model_validator(mode="after")
    def _consistent(self):
        if self.end is not None and self.duration is not None:
            raise FieldError("duration", "give end or duration, not both")
        if self.end is not None and self.end <= self.start:
            raise FieldError("end", "end must be after start")
        if self.preset is not None and self.mode == "copy":
            raise FieldError("preset", "copy mode does not encode: preset applies to accurate mode")
        return self

    @property
    def stop(self) -> float | None:
        return self.start + self.duration if self.duration is not None else self.end


def primary_stream(asset) -> dict | None:
    """The stream a cut is measured on: the first video stream (not cover art), else the first audio stream."""
    streams = asset.probe.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    return (video or audio or [None])[0]


def audio_stream(asset) -> dict | None:
    return next((s for s in asset.probe.get("streams", []) if s.get("codec_type") == "audio"), None)


def media_streams(asset) -> list[dict]:
    """What an output keeps: the primary video stream and the first audio stream."""
    video = primary_stream(asset) if asset.has_video else None
    return [s for s in (video, audio_stream(asset)) if s is not None]


def container_of(asset) -> str:
    """The extension of a file in the asset's own container, for a stream copy of its video and audio."""
    fmt = asset.probe.get("format", {})
    name = fmt.get("format_name", "")
    if name.startswith("mov,"):
        if fmt.get("tags", {}).get("major_brand", "").strip() == "qt":
            return "mov"
        return "mp4" if asset.has_video else "m4a"
    if name.startswith("matroska") and {asset.video_codec, asset.audio_codec} <= WEBM_CODECS:
        return "webm"
    default = "mkv" if asset.has_video else "mka"
    return FORMAT_EXTENSIONS.get(name, default)


def muxer_options(ext: str) -> dict:
    return {"movflags": "+faststart"} if ext in ("mp4", "mov", "m4a") else {}


def first_packet_seconds(listing: str, start_time: float) -> float | None:
    """The time of the first packet in a framecrc listing made with -copyts, on the input's own clock."""
    time_base = packet = None
    for line in listing.splitlines():
        if match := _TIME_BASE.match(line):
            time_base = int(match[1]) / int(match[2])
        elif match := _PACKET.match(line):
            dts, pts = int(match[1]), int(match[2])
            packet = pts if pts != _NOPTS else dts
            break
    if time_base is None or packet is None or packet == _NOPTS:
        return None
    return max(0.0, round(packet * time_base - start_time, 6))


def even_size(video, source):
    """4:2:0 encoders need even sizes: an odd-sized source loses its last row or column."""
    scale = scale_filter(TranscodeParams(), source.width, source.height)
    return video.filter("scale", **scale) if scale else video


def output_duration(path, index: int) -> float:
    """The duration of an output's stream `index` (the one the cut is measured on), else of the whole file.
    Matroska keeps stream durations in a DURATION tag (HH:MM:SS.nnnnnnnnn)."""
    probe = run_ffprobe(path)
    streams = probe.get("streams", [])
    stream = streams[index] if index < len(streams) else {}
    if stream.get("duration"):
        return round(float(stream["duration"]), 6)
    if tag := stream.get("tags", {}).get("DURATION"):
        hours, minutes, seconds = tag.split(":")
        return round(int(hours) * 3600 + int(minutes) * 60 + float(seconds), 6)
    return round(float(probe.get("format", {}).get("duration") or 0), 6)


class Trim(Operation):
    name = "trim"
    description = "Cut a video or audio file between two times: stream copy from a keyframe, or frame-accurate."
    params_model = TrimParams
    input_kinds = ("video", "audio")

    def run(self, ctx, params: TrimParams) -> Outcome:
        source = ctx.inputs[0]
        start, end = params.start, params.stop
        if source.duration is not None:
            if start >= source.duration:
                raise MediaError("invalid_trim", f"start {start} s is past the input's end ({source.duration:.2f} s)")
            end = min(end, source.duration) if end is not None else source.duration
        if params.mode == "copy":
            ext, encode = container_of(source), {"c": "copy", "avoid_negative_ts": "make_zero"}
            actual_start, span = self.keyframe_start(ctx, source, start), (5.0, 99.0)
        else:
            ext, encode = self.encoding(source, params.preset or DEFAULT_PRESET)
            actual_start, span = start, (0.0, 99.0)

        input_options = ctx.input_options() | {"ss": start}
        if end is not None:
            input_options["t"] = end - start
            if params.mode == "accurate":
                # A cut between two frames starts half a frame late; constant-frame-rate output fills that with a
                # repeated frame at 0, and limiting the output too keeps it at the asked length.
                encode["t"] = end - start
        stream = ffmpeg.input(str(ctx.local_path(source)), **input_options)
        streams = [stream[str(s["index"])] for s in media_streams(source)]
        if params.mode == "accurate" and source.has_video:
            streams[0] = even_size(streams[0], source)
        out_path = ctx.output_path(f"trim.{ext}")
        args = ffmpeg.output(*streams, str(out_path), **encode, **muxer_options(ext)).get_args()
        # FFmpeg's progress counts from `start` even when a copy begins at an earlier keyframe.
        ctx.ffmpeg(args, duration=end - start if end is not None else None, stage="trimming", span=span)

        duration = output_duration(out_path, 0)
        result = {
            "mode": params.mode,
            "requested_start": start,
            "requested_end": params.stop,
            "actual_start": actual_start,
            "actual_end": round(actual_start + duration, 6),
            "duration": duration,
        }
        return Outcome(files=[OutputFile(out_path, f"{ctx.stem(source)}.{ext}")], result=result)

    @staticmethod
    def keyframe_start(ctx, source, start: float) -> float:
        """Where a stream copy from `start` begins. FFmpeg seeks to the keyframe at or before `start` and copies
        from there; copying one packet of the measured stream with the input's timestamps kept tells which."""
        measured = primary_stream(source)
        listing = ctx.workdir / "first-packet.framecrc"
        stream = ffmpeg.input(str(ctx.local_path(source)), ss=start, **ctx.input_options())
        args = (
            ffmpeg.output(stream[str(measured["index"])], str(listing), c="copy", frames=1, f="framecrc")
            .global_args("-copyts")
            .get_args()
        )
        ctx.ffmpeg(args, duration=None, stage="seeking", span=(0.0, 5.0))
        input_start = float(source.probe.get("format", {}).get("start_time") or 0)
        seconds = first_packet_seconds(listing.read_text(), input_start) if listing.exists() else None
        if seconds is None:
            raise MediaError("invalid_trim", f"the input has no packet after {start} s")
        return seconds

    @staticmethod
    def encoding(source, preset: str) -> tuple[str, dict]:
        """The container and encoder options of an accurate cut: transcode's defaults for the source's container."""
        ext = container_of(source)
        if not source.has_video:
            ext = ext if ext in AUDIO_ENCODE else "m4a"
            return ext, dict(AUDIO_ENCODE[ext])
        ext = ext if ext in VIDEO_CONTAINERS else "mp4"
        defaults = TranscodeParams(format=ext, preset=preset)
        video_codec, audio_codec = defaults.codecs
        options = video_args(defaults, video_codec)
        if source.has_audio:
            options |= audio_args(defaults, audio_codec)
        return ext, options
