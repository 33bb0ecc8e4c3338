"""watermark: overlay an image asset (a logo) on a video, at a corner, the centre or a given spot, scaled to the
video's width, with opacity and an optional time window. One FFmpeg pass."""

from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.transcode import ALLOWED, DEFAULT_CODECS, Preset, TranscodeParams, audio_args, video_args

Position = Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"]

# overlay's x and y for each preset: W×H is the video, w×h the scaled image, m the margin in pixels.
PLACES = {
    "top-left": ("{m}", "{m}"),
    "top-right": ("W-w-{m}", "{m}"),
    "bottom-left": ("{m}", "H-h-{m}"),
    "bottom-right": ("W-w-{m}", "H-h-{m}"),
    "center": ("(W-w)/2", "(H-h)/2"),
}
DEFAULT_POSITION = "bottom-right"
DEFAULT_MARGIN = 0.02
DEFAULT_SCALE = 0.15


class WatermarkParams(Params):
    image: str = Field(description="Id of an image asset (PNG with transparency works best).", max_length=64)
    position: Position | None = Field(None, description="A corner or the centre; default bottom-right.")
    margin: float | None = Field(None, ge=0, le=0.5, description="Gap to the edges, a fraction of the width; 0.02.")
    x: float | None = Field(None, ge=0, le=1, description="Left edge of the image, a fraction of the video width.")
    y: float | None = Field(None, ge=0, le=1, description="Top edge of the image, a fraction of the video height.")
    scale: float = Field(DEFAULT_SCALE, ge=0.01, le=1, description="Image width as a fraction of the video width.")
    opacity: float = Field(1.0, gt=0, le=1, description="1 is opaque.")
    start: float | None = Field(None, ge=0, description="Seconds into the video where the image appears.")
    end: float | None = Field(None, gt=0, description="Seconds into the video where the image goes.")
    format: Literal["mp4", "webm", "mov"] = Field("mp4", description="Output container.")
    preset: Preset = Field("veryfast", description="Encoder speed.")

    @model_validator(mode="after")
    def _consistent(self):
        if (self.x is None) != (self.y is None):
            raise FieldError("y" if self.y is None else "x", "give both x and y")
        if self.x is not None and self.position is not None:
            raise FieldError("position", "give position or x/y, not both")
        if self.x is not None and self.margin is not None:
            raise FieldError("margin", "margin goes with position presets, not with x/y")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise FieldError("end", "end must be after start")
        return self

    def place(self) -> tuple[str, str]:
        """overlay's x and y expressions."""
        if self.x is not None:
            return f"{self.x}*W", f"{self.y}*H"
        margin = f"{self.margin if self.margin is not None else DEFAULT_MARGIN}*W"
        x, y = PLACES[self.position or DEFAULT_POSITION]
        return x.format(m=margin), y.format(m=margin)

    def window(self) -> str | None:
        """overlay's `enable` expression for the start/end window; None: always."""
        if self.start is not None and self.end is not None:
            return f"between(t,{self.start},{self.end})"
        if self.start is not None:
            return f"gte(t,{self.start})"
        if self.end is not None:
            return f"lte(t,{self.end})"
        return None


def display_size(asset) -> tuple[int, int]:
    """Width and height as played: FFmpeg turns video with a 90° display rotation upright."""
    stream = next((s for s in asset.probe.get("streams", []) if s.get("codec_type") == "video"), {})
    rotations = [d["rotation"] for d in stream.get("side_data_list", []) if "rotation" in d]
    rotation = rotations[0] if rotations else stream.get("tags", {}).get("rotate", 0)
    try:
        sideways = round(abs(float(rotation))) % 180 == 90
    except (TypeError, ValueError):
        sideways = False
    return (asset.height, asset.width) if sideways else (asset.width, asset.height)


class Watermark(Operation):
    name = "watermark"
    description = "Overlay an image (a logo) on a video: position, size, opacity, time window."
    params_model = WatermarkParams
    asset_params = {"image": ("image",)}

    def run(self, ctx, params: WatermarkParams) -> Outcome:
        source = ctx.inputs[0]
        self.require_video(source)
        image = ctx.param_asset("image")
        width, height = display_size(source)

        stream = ffmpeg.input(str(ctx.local_path(source)), **ctx.input_options())
        video = stream.video
        if (width or 0) % 2 or (height or 0) % 2:
            video = video.filter("scale", "trunc(iw/2)*2", "trunc(ih/2)*2")
        # A still image is one frame: overlay keeps showing it to the video's end (eof_action=repeat).
        logo = ffmpeg.input(str(ctx.local_path(image)), **ctx.input_options()).video
        logo = logo.filter("scale", max(round(params.scale * (width or 0)), 1), -1).filter("format", "rgba")
        if params.opacity < 1:
            logo = logo.filter("colorchannelmixer", aa=params.opacity)
        x, y = params.place()
        overlay = {"x": x, "y": y, "eof_action": "repeat"}
        if params.window():
            overlay["enable"] = params.window()
        streams = [video.overlay(logo, **overlay)]

        video_codec, audio_codec = DEFAULT_CODECS[params.format]
        encoding = TranscodeParams(format=params.format, preset=params.preset)
        options = video_args(encoding, video_codec)
        if source.has_audio:
            streams.append(stream.audio)
            copy = source.audio_codec in ALLOWED[params.format][1]
            options.update({"c:a": "copy"} if copy else audio_args(encoding, audio_codec))
        if params.format in ("mp4", "mov"):
            options["movflags"] = "+faststart"

        out_path = ctx.output_path(f"output.{params.format}")
        args = ffmpeg.output(*streams, str(out_path), **options).get_args()
        ctx.ffmpeg(args, duration=source.duration, stage="watermarking")
        return Outcome(files=[OutputFile(out_path, f"{ctx.stem(source)}.{params.format}")])
