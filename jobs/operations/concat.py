"""concat: join 2–100 videos (or 2–100 audio files) end to end, by stream copy when they match, else re-encoded."""

import re
from fractions import Fraction
from pathlib import Path
from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.ffmpeg.probe import run_ffprobe
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.transcode import Preset, TranscodeParams, audio_args, video_args
from jobs.operations.trim import audio_stream, container_of, media_streams, muxer_options, primary_stream

DEFAULT_PRESET = "veryfast"
DEFAULT_FPS = Fraction(25)
SAMPLE_RATE = 48000
# What must match for the concat demuxer to join files by stream copy: it takes the first file's stream
# parameters for the whole output.
VIDEO_KEYS = ("codec_name", "profile", "width", "height", "pix_fmt", "time_base", "r_frame_rate")
AUDIO_KEYS = ("codec_name", "profile", "sample_rate", "channels", "channel_layout")
MAX_LISTED_DIFFERENCES = 10
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")  # what the concat demuxer's safe mode accepts in a name
# Silence for the segments of inputs without audio; the concat filter pads each segment's audio with silence
# to the length of its video (all but the last: `apad` does that one).
SILENCE = f"anullsrc=r={SAMPLE_RATE}:cl=stereo:d=0.1"


class ConcatParams(Params):
    mode: Literal["auto", "copy", "reencode"] = Field(
        "auto", description="auto: stream copy when all inputs match, else re-encode."
    )
    width: int | None = Field(None, ge=16, le=7680, description="Even; re-encode size, default the first input's.")
    height: int | None = Field(None, ge=16, le=4320, description="Even; re-encode size, default the first input's.")
    preset: Preset | None = Field(None, description="Encoder speed when re-encoding; default veryfast.")

    @model_validator(mode="after")
    def _consistent(self):
        for side in ("width", "height"):
            value = getattr(self, side)
            if value is not None and value % 2:
                raise FieldError(side, f"{side} must be even (4:2:0 video needs even sizes), got {value}")
            if value is not None and self.mode == "copy":
                raise FieldError(side, "mode copy keeps the inputs' size: drop width and height")
        if self.preset is not None and self.mode == "copy":
            raise FieldError("preset", "mode copy does not encode: preset applies when re-encoding")
        return self


def signature(asset) -> dict[str, object]:
    """The parameters of an input that must be equal in every input for a stream copy."""
    streams = asset.probe.get("streams", [])
    video = primary_stream(asset) if asset.has_video else None
    audio = audio_stream(asset)
    found = {
        "container": asset.probe.get("format", {}).get("format_name"),
        "streams": "+".join(s.get("codec_type", "?") for s in streams),
    }
    found |= {f"video {key}": (video or {}).get(key) for key in VIDEO_KEYS}
    found |= {f"audio {key}": (audio or {}).get(key) for key in AUDIO_KEYS}
    return found


def shown(value: object) -> str:
    return "none" if value is None else str(value)


def copy_differences(assets: list) -> list[str]:
    """What keeps the inputs from being joined by stream copy, each compared with the first input."""
    first = signature(assets[0])
    differences = []
    for position, asset in enumerate(assets[1:], start=1):
        for key, value in signature(asset).items():
            if value != first[key]:
                differences.append(f"inputs.{position} {key} is {shown(value)}, inputs.0 has {shown(first[key])}")
    return differences


def quote(text: str) -> str:
    """A single-quoted ffconcat token: a quote inside becomes '\\'' (close, escaped quote, reopen)."""
    if any(char in text for char in "\r\n\0"):
        raise ValueError("a concat list entry cannot hold line breaks")
    return "'" + text.replace("'", "'\\''") + "'"


def concat_list(paths: list[Path], formats: str | None = None) -> str:
    """An ffconcat script of our own local paths.

    Concat's copy mode lists relative part links and reads the list with `-safe 1`, which refuses absolute
    paths, `..`, protocols and `option` lines alike. With `formats` (a `-safe 0` list only), each file also gets
    a demuxer allow-list of its own. In safe mode the files inherit the list's allow-list instead (plain media
    plus concat); a file that FFmpeg would detect as a concat script is one ffprobe refused at upload (detection
    ignores allow-lists), so it is a data asset that no job takes, and a nested list could name only files
    beside the links anyway."""
    lines = ["ffconcat version 1.0"]
    for path in paths:
        lines.append(f"file {quote(str(path))}")
        if formats is not None:
            lines.append(f"option format_whitelist {formats}")
    return "\n".join(lines) + "\n"


def frame_rate(asset) -> Fraction:
    """The first input's frame rate as an exact fraction (30000/1001, not 29.97), for the fps filter."""
    video = primary_stream(asset) or {}
    for key in ("avg_frame_rate", "r_frame_rate"):
        try:
            rate = Fraction(video.get(key) or "0/1")
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < rate <= 240:
            return rate
    return DEFAULT_FPS


def even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def frame_size(params: ConcatParams, first) -> tuple[int, int]:
    """The re-encoded size: width/height if given (one alone keeps the first input's aspect ratio), else the
    first input's, made even."""
    width, height = params.width, params.height
    if width and not height:
        height = even(width * first.height / first.width)
    elif height and not width:
        width = even(height * first.width / first.height)
    return width or even(first.width), height or even(first.height)


def fitted(video, width: int, height: int, fps: Fraction):
    """A segment's picture at the output's size (scaled to fit, centred on black), square pixels, frame rate."""
    video = video.filter("setpts", "PTS-STARTPTS").filter("fps", str(fps))
    video = video.filter("scale", width, height, force_original_aspect_ratio="decrease", force_divisible_by=2)
    video = video.filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2")
    return video.filter("setsar", "1").filter("format", "yuv420p")


def resampled(audio):
    audio = audio.filter("asetpts", "PTS-STARTPTS").filter("aresample", SAMPLE_RATE)
    return audio.filter("aformat", sample_fmts="fltp", channel_layouts="stereo")


def occurrence_paths(ctx) -> list[Path]:
    """A path per input position. ffmpeg-python merges identical inputs into one `-i`, and one input feeding two
    segments would keep the later segment's decoded frames in memory until it plays; so each repeat of an asset
    is opened through a link of its own in the work dir."""
    paths: list[Path] = []
    for position, asset in enumerate(ctx.inputs):
        path = ctx.local_path(asset)
        if path in paths:
            link = ctx.workdir / "repeats" / f"{position}{path.suffix}"
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(path)
            path = link
        paths.append(path)
    return paths


def part_links(ctx) -> list[Path]:
    """A link per input position in the work dir, beside the list (`part-000.mp4`, …): the list names these
    relative names only, which the concat demuxer's `safe` mode accepts (no absolute paths, no `..`, no
    protocols), so it can be told to refuse anything else."""
    names: list[Path] = []
    for position, asset in enumerate(ctx.inputs):
        path = ctx.local_path(asset)
        name = Path(f"part-{position:03d}{path.suffix.lower() if _SAFE_SUFFIX.match(path.suffix) else '.bin'}")
        (ctx.workdir / name).symlink_to(path.absolute())
        names.append(name)
    return names


class Concat(Operation):
    name = "concat"
    description = "Join 2–100 videos, or 2–100 audio files, end to end; stream copy when they all match."
    params_model = ConcatParams
    min_inputs = 2
    max_inputs = 100
    input_kinds = ("video", "audio")

    def check_inputs(self, assets: list, params: ConcatParams) -> dict[str, list[str]]:
        errors = super().check_inputs(assets, params)
        if errors:
            return errors
        kind = assets[0].kind
        for position, asset in enumerate(assets):
            if asset.kind != kind:
                return {f"inputs.{position}": [f"{asset.id} is {asset.kind}, inputs.0 is {kind}: join one kind only."]}
        if kind == "audio" and (params.width or params.height):
            side = "width" if params.width else "height"
            return {f"params.{side}": ["the inputs are audio: there is no picture to size."]}
        if params.mode == "copy" and (differences := copy_differences(assets)):
            listed = "; ".join(differences[:MAX_LISTED_DIFFERENCES])
            unlisted = len(differences) - MAX_LISTED_DIFFERENCES
            more = f" (and {unlisted} more)" if unlisted > 0 else ""
            message = f"The inputs differ, so they cannot be joined by stream copy: {listed}{more}. Use mode auto."
            return {"params.mode": [message]}
        return {}

    def run(self, ctx, params: ConcatParams) -> Outcome:
        first = ctx.inputs[0]
        total = sum(asset.duration or 0 for asset in ctx.inputs) or None
        copy = params.mode == "copy" or (params.mode == "auto" and not copy_differences(ctx.inputs))
        if copy:
            out_path, result = self.copy(ctx, total), {"mode": "copy"}
        else:
            out_path, result = self.reencode(ctx, params, total), {"mode": "reencode"}
        duration = float(run_ffprobe(out_path).get("format", {}).get("duration") or 0)
        result["duration"] = round(duration, 6)
        return Outcome(files=[OutputFile(out_path, f"{ctx.stem(first)}-joined{out_path.suffix}")], result=result)

    @staticmethod
    def copy(ctx, total: float | None) -> Path:
        """The concat demuxer over a list we write; only it may read the list (`-f concat`), only through the
        file protocol, and with `-safe 1`: the list names only plain relative files beside it (part links)."""
        first = ctx.inputs[0]
        listing = ctx.workdir / "concat.ffconcat"
        options = ctx.input_options()
        listing.write_text(concat_list(part_links(ctx)))
        formats = f"concat,{options['format_whitelist']}"  # the list, and (inherited) the files it names
        stream = ffmpeg.input(str(listing), **(options | {"format_whitelist": formats, "f": "concat", "safe": 1}))
        ext = container_of(first)
        out_path = ctx.output_path(f"joined.{ext}")
        streams = [stream[str(s["index"])] for s in media_streams(first)]
        args = ffmpeg.output(*streams, str(out_path), c="copy", **muxer_options(ext)).get_args()
        ctx.ffmpeg(args, duration=total, stage="joining")
        return out_path

    @staticmethod
    def reencode(ctx, params: ConcatParams, total: float | None) -> Path:
        """Every input normalised (size, square pixels, frame rate, 48 kHz stereo) into one concat filter."""
        first = ctx.inputs[0]
        has_video = first.kind == "video"
        has_audio = any(asset.has_audio for asset in ctx.inputs)
        silent = has_audio and not all(asset.has_audio for asset in ctx.inputs)
        silence = ffmpeg.input(SILENCE, f="lavfi").audio.filter_multi_output("asplit") if silent else None
        width, height = frame_size(params, first) if has_video else (0, 0)
        fps = frame_rate(first)

        segments, silences = [], 0
        for asset, path in zip(ctx.inputs, occurrence_paths(ctx), strict=True):
            stream = ffmpeg.input(str(path), **ctx.input_options())
            if has_video:
                segments.append(fitted(stream[str(primary_stream(asset)["index"])], width, height, fps))
            if asset.has_audio:
                segments.append(resampled(stream[str(audio_stream(asset)["index"])]))
            elif has_audio:
                segments.append(silence.stream(silences))
                silences += 1

        joined = ffmpeg.concat(*segments, n=len(ctx.inputs), v=int(has_video), a=int(has_audio)).node
        outputs = [joined[i] for i in range(int(has_video) + int(has_audio))]
        defaults = TranscodeParams(format="mp4", preset=params.preset or DEFAULT_PRESET)
        options = video_args(defaults, "h264") if has_video else {}
        if has_audio:
            options |= audio_args(defaults, "aac")
            if not ctx.inputs[-1].has_audio and total:
                outputs[-1] = outputs[-1].filter("apad", whole_dur=total)
        out_path = ctx.output_path("joined.mp4" if has_video else "joined.m4a")
        args = ffmpeg.output(*outputs, str(out_path), **options, movflags="+faststart").get_args()
        ctx.ffmpeg(args, duration=total, stage="joining")
        return out_path
