"""gif: an animated GIF (with a palette made for the clip) or an animated WebP from a stretch of a video."""

from pathlib import Path
from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.probe import run_ffprobe
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.thumbnail import video_end

MAX_SECONDS = 60.0
DEFAULT_WIDTH = 480
WEBP_QUALITY = 75


class GifParams(Params):
    format: Literal["gif", "webp"] = Field("gif", description="Animated GIF or animated WebP.")
    start: float | None = Field(None, ge=0, description="Seconds into the input where the animation starts.")
    end: float | None = Field(None, gt=0, description="Seconds into the input where it ends; default the input's end.")
    fps: float = Field(10, gt=0, le=30, description="Frames per second.")
    width: int | None = Field(
        None, ge=16, le=1920, description="Default 480, or the source's width when smaller; the height follows."
    )
    loop: int = Field(0, ge=0, le=65535, description="How many times it plays: 0 = forever.")

    @model_validator(mode="after")
    def _consistent(self):
        start = self.start or 0.0
        if self.end is not None and self.end <= start:
            raise FieldError("end", "end must be after start")
        if self.end is not None and self.end - start > MAX_SECONDS:
            raise FieldError(
                "end", f"an animation is at most {MAX_SECONDS:g} s long, this one is {self.end - start:g} s"
            )
        return self


def window(params: GifParams, end_of_video: float | None) -> tuple[float, float]:
    """(start, end) in the input: end defaults to the video's end, and a later end is cut to it."""
    start = params.start or 0.0
    end = params.end if params.end is not None else start + MAX_SECONDS
    return start, min(end, end_of_video) if end_of_video else end


def webp_canvas(path: Path) -> tuple[int, int]:
    """The canvas of an animated WebP (its VP8X chunk): FFmpeg 5.1 cannot read animated WebP back."""
    head = path.read_bytes()[:30]
    if head[12:16] != b"VP8X":
        raise MediaError("ffmpeg_failed", "FFmpeg wrote a WebP without an animation header.")
    return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1


def output_size(path: Path, format_: str) -> tuple[int, int]:
    if format_ == "webp":
        return webp_canvas(path)
    video = next(s for s in run_ffprobe(path)["streams"] if s.get("codec_type") == "video")
    return video["width"], video["height"]


def encode_args(params: GifParams) -> dict:
    if params.format == "webp":
        # libwebp per frame, assembled by the webp muxer: libwebp_anim emits one packet at the very end, so
        # FFmpeg's progress (and the truncation check) would see nothing until then.
        return {"f": "webp", "c:v": "libwebp", "quality": WEBP_QUALITY, "loop": params.loop}
    # GIF counts repeats after the first play (0 = forever); -1 writes no loop extension: play once.
    return {"f": "gif", "loop": {0: 0, 1: -1}.get(params.loop, params.loop - 1)}


class Gif(Operation):
    name = "gif"
    description = "An animated GIF (palette made for the clip) or animated WebP from a stretch of a video."
    params_model = GifParams

    def check_inputs(self, assets: list, params: GifParams) -> dict[str, list[str]]:
        """Also the checks that need the input's duration, so they answer 400 at submit time."""
        errors = super().check_inputs(assets, params)
        end = video_end(assets[0]) if not errors else None
        if end is None:
            return errors
        start = params.start or 0.0
        if start >= end:
            return {"params.start": [f"start {start:g} s is past the end of the video ({end:.2f} s)"]}
        if params.end is None and end - start > MAX_SECONDS:
            return {
                "params.end": [
                    f"the video runs {end - start:.2f} s from start and an animation is at most {MAX_SECONDS:g} s: "
                    f"give an end of at most {start + MAX_SECONDS:g}"
                ]
            }
        return {}

    def run(self, ctx, params: GifParams) -> Outcome:
        source = ctx.inputs[0]
        self.require_video(source)
        start, end = window(params, video_end(source))
        width = params.width or min(DEFAULT_WIDTH, source.width or DEFAULT_WIDTH)
        options = {**ctx.input_options(), "t": end - start}
        if start:
            options["ss"] = start
        video = ffmpeg.input(str(ctx.local_path(source)), **options)["v:0"].filter("fps", fps=params.fps)
        if params.format == "gif":
            video = video.filter("scale", width, -1, flags="lanczos")
            # One graph: the palette is made from this clip's frames, then applied to them.
            split = video.filter_multi_output("split")
            palette = split[0].filter("palettegen", stats_mode="diff")
            video = ffmpeg.filter([split[1], palette], "paletteuse", diff_mode="rectangle")
        else:
            video = video.filter("scale", width, -1)

        out_path = ctx.output_path(f"animation.{params.format}")
        args = ffmpeg.output(video, str(out_path), **encode_args(params)).get_args()
        # FFmpeg's progress counts to the start of the last frame, one frame before the end.
        ctx.ffmpeg(args, duration=max(end - start - 1 / params.fps, 0) or None, stage="encoding")

        width, height = output_size(out_path, params.format)
        result = {"start": start, "end": round(end, 3), "fps": params.fps, "width": width, "height": height}
        name = f"{ctx.stem(source)}.{params.format}"
        return Outcome(files=[OutputFile(out_path, name)], result={**result, "loop": params.loop})
