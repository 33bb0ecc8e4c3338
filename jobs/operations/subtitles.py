"""subtitles: burn an SRT, WebVTT or ASS file into a video (libass), or mux it in as a subtitle track."""

from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.filtergraph import filter_path, filter_value
from jobs.ffmpeg.probe import run_ffprobe
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.filters import source_shape
from jobs.operations.transcode import (
    DEFAULT_CODECS,
    Format,
    Preset,
    TranscodeParams,
    audio_args,
    scale_filter,
    video_args,
)

COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
# The codec of each subtitle format (probe's format_name), and the codec a soft track gets in each container.
SUBTITLE_CODECS = {"srt": "subrip", "webvtt": "webvtt", "ass": "ass"}
SOFT_CODECS = {
    "mp4": {"srt": "mov_text", "webvtt": "mov_text", "ass": "mov_text"},
    "mov": {"srt": "mov_text", "webvtt": "mov_text", "ass": "mov_text"},
    "mkv": {"srt": "subrip", "webvtt": "subrip", "ass": "ass"},
    "webm": {"srt": "webvtt", "webvtt": "webvtt", "ass": "webvtt"},
}
# Codecs (ffprobe names) each container takes as they are; None: any. Others are re-encoded.
COPYABLE_VIDEO = {
    "mp4": {"h264", "hevc", "av1", "vp9", "mpeg4"},
    "mov": {"h264", "hevc", "mpeg4", "prores", "mjpeg"},
    "mkv": None,
    "webm": {"vp8", "vp9", "av1"},
}
COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3"},
    "mkv": None,
    "webm": {"opus", "vorbis"},
}
# FFmpeg's SRT→ASS conversion draws 16 px text with a 1 px outline on a 288 px high canvas; style keeps that look.
DEFAULT_FONT_SHARE = 16 / 288
ALIGNMENT = {"bottom": 2, "top": 6}  # force_style takes SSA's legacy alignment: 2 bottom centre, 6 top centre


class SubtitleStyle(Params):
    font_size: int | None = Field(None, ge=6, le=400, description="Pixels; default 1/18 of the video's height.")
    font_color: str = Field("#FFFFFF", pattern=COLOR_PATTERN, description="#RRGGBB.")
    outline_color: str = Field("#000000", pattern=COLOR_PATTERN, description="#RRGGBB; the box's colour with box.")
    outline: float | None = Field(None, ge=0, le=20, description="Outline width (box padding) in pixels.")
    position: Literal["bottom", "top"] = "bottom"
    box: bool = Field(False, description="An opaque box in outline_color behind the text instead of an outline.")


class SubtitlesParams(Params):
    subtitles: str = Field(..., max_length=32, description="The subtitle asset's id (SRT, WebVTT or ASS).")
    mode: Literal["burn", "soft"] = Field("burn", description="burn: draw into the picture; soft: a track.")
    format: Format = Field("mp4", description="Output container.")
    language: str | None = Field(
        None, pattern=r"^[a-z]{3}$", description="Soft mode: ISO 639-2 code of the track, e.g. eng."
    )
    style: SubtitleStyle | None = Field(None, description="Burn mode, SRT and WebVTT only: how the text looks.")
    preset: Preset | None = Field(None, description="Encoder speed when video is encoded; default veryfast.")

    @model_validator(mode="after")
    def _mode_fits(self):
        if self.mode == "soft" and self.style is not None:
            raise FieldError("style", "style applies to burnt-in subtitles (mode burn)")
        if self.mode == "burn" and self.language is not None:
            raise FieldError("language", "language tags a subtitle track (mode soft)")
        return self

    @property
    def encoding(self) -> TranscodeParams:
        return TranscodeParams(format=self.format, preset=self.preset or "veryfast")


def ass_color(hex_color: str) -> str:
    """#RRGGBB as ASS's &HAABBGGRR (opaque)."""
    red, green, blue = hex_color[1:3], hex_color[3:5], hex_color[5:7]
    return f"&H00{blue}{green}{red}".upper()


def force_style(style: SubtitleStyle, width: int, height: int) -> str:
    """libass style overrides, built from validated values only. The canvas is set to the video's size so
    sizes are in video pixels."""
    fields = {
        "PlayResX": width,
        "PlayResY": height,
        "FontSize": style.font_size or max(6, round(height * DEFAULT_FONT_SHARE)),
        "PrimaryColour": ass_color(style.font_color),
        "OutlineColour": ass_color(style.outline_color),
        "Outline": style.outline if style.outline is not None else max(1, round(height / 288)),
        "BorderStyle": 3 if style.box else 1,
        "Alignment": ALIGNMENT[style.position],
    }
    return filter_value(",".join(f"{key}={value}" for key, value in fields.items()))


def subtitle_format(asset) -> str:
    name = ((asset.probe or {}).get("format") or {}).get("format_name", "")
    if name not in ("srt", "webvtt", "ass"):
        raise MediaError("unusable_subtitles", "The subtitles asset is not an SRT, WebVTT or ASS file.")
    return name


def copies(table: dict, fmt: str, codec: str) -> bool:
    allowed = table[fmt]
    return bool(codec) and (allowed is None or codec in allowed)


def audio_options(params: SubtitlesParams, source) -> tuple[dict, str]:
    """Output options for the audio and what was done: the codec as it is when the container takes it."""
    if copies(COPYABLE_AUDIO, params.format, source.audio_codec):
        return {"c:a": "copy"}, "copy"
    codec = DEFAULT_CODECS[params.format][1]
    return audio_args(params.encoding, codec), codec


class Subtitles(Operation):
    name = "subtitles"
    description = "Burn subtitles (SRT, WebVTT, ASS) into a video, or add them as a subtitle track."
    params_model = SubtitlesParams
    asset_params = {"subtitles": ("subtitle",)}

    def run(self, ctx, params: SubtitlesParams) -> Outcome:
        source, subtitles = ctx.inputs[0], ctx.param_asset("subtitles")
        self.require_video(source)
        kind = subtitle_format(subtitles)
        out_path = ctx.output_path(f"output.{params.format}")
        if params.mode == "burn":
            result = self.burn(ctx, params, source, subtitles, kind, out_path)
        else:
            result = self.soft(ctx, params, source, subtitles, kind, out_path)
        result = {"mode": params.mode, "subtitle_format": kind, **result}
        return Outcome(files=[OutputFile(out_path, f"{ctx.stem(source)}.{params.format}")], result=result)

    def burn(self, ctx, params: SubtitlesParams, source, subtitles, kind: str, out_path) -> dict:
        if params.style is not None and kind == "ass":
            raise MediaError("style_not_applicable", "style applies to SRT and WebVTT; ASS keeps its own styles.")
        # libass gets a file we wrote, read through the demuxer allow-list: the subtitles filter itself would
        # open any path, format or protocol.
        prepared = ctx.workdir / "subtitles.ass"
        convert = ffmpeg.input(str(ctx.local_path(subtitles)), **ctx.input_options())
        args = convert.output(str(prepared), **{"c:s": "copy" if kind == "ass" else "ass"}).get_args()
        ctx.ffmpeg(args, duration=None, stage="preparing_subtitles", span=(0.0, 2.0))

        stream = ffmpeg.input(str(ctx.local_path(source)), **ctx.input_options())
        options = {"filename": filter_path(prepared)}
        if params.style is not None:
            shape = source_shape(source)  # as it plays: a phone video's rotation is applied before the filter
            options["force_style"] = force_style(params.style, shape.width, shape.height)
        video = stream.video.filter("subtitles", **options)
        even = scale_filter(params.encoding, source.width, source.height)
        if even:
            video = video.filter("scale", **even)
        video_codec = DEFAULT_CODECS[params.format][0]
        streams, output = [video], video_args(params.encoding, video_codec)
        audio_codec = None
        if source.has_audio:
            audio, audio_codec = audio_options(params, source)
            streams.append(stream["a:0"])
            output.update(audio)
        self.write(ctx, streams, out_path, output, params.format, source.duration, "burning", (2.0, 99.0))
        return {"video_codec": video_codec, "audio_codec": audio_codec}

    def soft(self, ctx, params: SubtitlesParams, source, subtitles, kind: str, out_path) -> dict:
        stream = ffmpeg.input(str(ctx.local_path(source)), **ctx.input_options())
        track = ffmpeg.input(str(ctx.local_path(subtitles)), **ctx.input_options())
        if copies(COPYABLE_VIDEO, params.format, source.video_codec):
            video_codec, output = "copy", {"c:v": "copy"}
        else:
            video_codec = DEFAULT_CODECS[params.format][0]
            output = video_args(params.encoding, video_codec)
        streams = [stream["v:0"]]
        audio_codec = None
        if source.has_audio:
            audio, audio_codec = audio_options(params, source)
            streams.append(stream["a:0"])
            output.update(audio)
        subtitle_codec = SOFT_CODECS[params.format][kind]
        streams.append(track["s:0"])
        output["c:s"] = "copy" if subtitle_codec == SUBTITLE_CODECS[kind] else subtitle_codec
        if params.language:
            output["metadata:s:s:0"] = f"language={params.language}"
        self.write(ctx, streams, out_path, output, params.format, source.duration, "muxing", (0.0, 99.0))
        if params.language:
            check_language(out_path, params.language, params.format)
        return {
            "video_codec": video_codec,
            "audio_codec": audio_codec,
            "subtitle_codec": subtitle_codec,
            "language": params.language,
        }

    @staticmethod
    def write(ctx, streams, out_path, output: dict, fmt: str, duration, stage: str, span) -> None:
        if fmt in ("mp4", "mov"):
            output["movflags"] = "+faststart"
        args = ffmpeg.output(*streams, str(out_path), **output).get_args()
        ctx.ffmpeg(args, duration=duration, stage=stage, span=span)


def check_language(path, language: str, fmt: str) -> None:
    """MOV keeps only QuickTime's own list of languages and drops others without an error."""
    streams = run_ffprobe(path).get("streams", [])
    tags = next((s.get("tags", {}) for s in streams if s.get("codec_type") == "subtitle"), {})
    if tags.get("language") != language:
        raise MediaError(
            "language_not_supported", f"{fmt} cannot store the language '{language}'; use mp4 or mkv for it."
        )
