"""filters: an ordered chain of named, bounded filters (denoise, eq, speed, reverse, crop, stabilize, …) over one
video. Requests name filters and numbers; the filter graph is built from them here, never from user strings."""

from dataclasses import dataclass, replace
from typing import Annotated, ClassVar, Literal, Union, get_args

import ffmpeg
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from jobs.ffmpeg.filtergraph import available_filters, filter_path
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.transcode import DEFAULT_CODECS, Format, Preset, TranscodeParams, audio_args, video_args

MAX_FILTERS = 10
MAX_REVERSE_SECONDS = 60
MAX_REVERSE_BYTES = 2 * 1024**3  # reverse holds every decoded frame (yuv420p: 1.5 bytes a pixel) in memory
STABILIZE_FILTERS = {"vidstabdetect", "vidstabtransform"}
TRANSFORMS = "transforms.trf"


@dataclass(frozen=True)
class Shape:
    """The picture and duration at a point of the chain (what later filters are checked against)."""

    width: int
    height: int
    duration: float
    fps: float | None


class Step(Params):
    """One filter of the chain; each kind says how it changes the shape and what it does to video and audio."""

    changes_audio: ClassVar[bool] = False

    def problem(self, shape: Shape) -> tuple[str, str] | None:
        """(field, message) when this filter cannot apply to `shape`."""
        return None

    def reshape(self, shape: Shape) -> Shape:
        return shape

    def video(self, stream, shape: Shape):
        return stream

    def audio(self, stream, shape: Shape):
        return stream


class Deinterlace(Step):
    name: Literal["deinterlace"]
    method: Literal["bwdif", "yadif"] = Field("bwdif", description="bwdif is sharper, yadif faster.")

    def video(self, stream, shape):
        return stream.filter(self.method, mode="send_frame", parity="auto", deint="all")


class Denoise(Step):
    name: Literal["denoise"]
    strength: float = Field(4, ge=0, le=10, description="hqdn3d luma strength; 0 leaves the video as it is.")

    def video(self, stream, shape):
        if not self.strength:  # hqdn3d reads 0 as "its default"
            return stream
        s = self.strength
        return stream.filter("hqdn3d", luma_spatial=s, chroma_spatial=0.75 * s, luma_tmp=1.5 * s, chroma_tmp=1.125 * s)


class Sharpen(Step):
    name: Literal["sharpen"]
    amount: float = Field(1, ge=0, le=3, description="unsharp luma amount over a 5×5 matrix.")

    def video(self, stream, shape):
        return stream.filter("unsharp", luma_msize_x=5, luma_msize_y=5, luma_amount=self.amount)


class Eq(Step):
    name: Literal["eq"]
    brightness: float = Field(0, ge=-1, le=1)
    contrast: float = Field(1, ge=0, le=3)
    saturation: float = Field(1, ge=0, le=3)
    gamma: float = Field(1, ge=0.1, le=10)

    def video(self, stream, shape):
        return stream.filter(
            "eq", brightness=self.brightness, contrast=self.contrast, saturation=self.saturation, gamma=self.gamma
        )


def tempo_steps(factor: float) -> list[float]:
    """atempo factors that multiply to `factor`, each within 0.5–2 (where atempo sounds best)."""
    steps = []
    while factor > 2:
        steps.append(2.0)
        factor /= 2
    while factor < 0.5:
        steps.append(0.5)
        factor /= 0.5
    return [*steps, factor]


class Speed(Step):
    name: Literal["speed"]
    factor: float = Field(..., ge=0.25, le=4, description="2 plays twice as fast; audio keeps its pitch.")
    changes_audio = True

    def reshape(self, shape):
        return replace(shape, duration=shape.duration / self.factor)

    def video(self, stream, shape):
        stream = stream.filter("setpts", expr=f"PTS/{self.factor!r}")
        return stream.filter("fps", fps=shape.fps) if shape.fps else stream  # keep the source's frame rate

    def audio(self, stream, shape):
        for step in tempo_steps(self.factor):
            stream = stream.filter("atempo", tempo=step)
        return stream


class Reverse(Step):
    name: Literal["reverse"]
    changes_audio = True

    def problem(self, shape):
        frames = shape.duration * (shape.fps or 30)
        if shape.duration > MAX_REVERSE_SECONDS or frames * shape.width * shape.height * 1.5 > MAX_REVERSE_BYTES:
            return "name", (
                f"reverse holds every frame in memory: it takes up to {MAX_REVERSE_SECONDS} s and about 2 GB of "
                f"frames; this video is {shape.duration:.1f} s at {shape.width}×{shape.height} here. Trim it first."
            )
        return None

    def video(self, stream, shape):
        return stream.filter("reverse")

    def audio(self, stream, shape):
        return stream.filter("areverse")


class Fade(Step):
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)  # stored as given: "in", "out"

    name: Literal["fade"]
    fade_in: float = Field(0, ge=0, le=600, alias="in", description="Seconds of fade from black at the start.")
    fade_out: float = Field(0, ge=0, le=600, alias="out", description="Seconds of fade to black at the end.")
    changes_audio = True

    @model_validator(mode="after")
    def _some_fade(self):
        if not (self.fade_in or self.fade_out):
            raise FieldError("in", "give in or out (seconds), or both")
        return self

    def problem(self, shape):
        for field, seconds in (("in", self.fade_in), ("out", self.fade_out)):
            if seconds > shape.duration:
                return field, f"a {seconds:g} s fade is longer than the video ({shape.duration:.2f} s) at this point"
        return None

    def _fades(self, shape) -> list[dict]:
        fades = [{"type": "in", "start_time": 0, "duration": self.fade_in}] if self.fade_in else []
        if self.fade_out:
            start = round(max(shape.duration - self.fade_out, 0), 3)
            fades.append({"type": "out", "start_time": start, "duration": self.fade_out})
        return fades

    def video(self, stream, shape):
        for fade in self._fades(shape):
            stream = stream.filter("fade", **fade)
        return stream

    def audio(self, stream, shape):
        for fade in self._fades(shape):
            stream = stream.filter("afade", **fade)
        return stream


class Rotate(Step):
    name: Literal["rotate"]
    degrees: Literal[90, 180, 270] = Field(..., description="Clockwise.")

    def reshape(self, shape):
        return shape if self.degrees == 180 else replace(shape, width=shape.height, height=shape.width)

    def video(self, stream, shape):
        if self.degrees == 180:
            return stream.filter("hflip").filter("vflip")
        return stream.filter("transpose", dir="clock" if self.degrees == 90 else "cclock")


class Flip(Step):
    name: Literal["flip"]
    direction: Literal["horizontal", "vertical"]

    def video(self, stream, shape):
        return stream.filter("hflip" if self.direction == "horizontal" else "vflip")


class Crop(Step):
    name: Literal["crop"]
    x: int | None = Field(None, ge=0, le=16384, description="Left edge in pixels.")
    y: int | None = Field(None, ge=0, le=16384, description="Top edge in pixels.")
    width: int | None = Field(None, ge=2, le=16384, description="Even.")
    height: int | None = Field(None, ge=2, le=16384, description="Even.")
    aspect_ratio: str | None = Field(
        None, pattern=r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$", description="e.g. 1:1 or 9:16: the largest centred crop."
    )

    @model_validator(mode="after")
    def _one_form(self):
        box = (self.x, self.y, self.width, self.height)
        if self.aspect_ratio is not None:
            if any(value is not None for value in box):
                raise FieldError("aspect_ratio", "give aspect_ratio or x, y, width and height, not both")
            return self
        for field, value in zip(("x", "y", "width", "height"), box, strict=True):
            if value is None:
                raise FieldError(field, "crop needs x, y, width and height (or aspect_ratio)")
        for field in ("width", "height"):
            if getattr(self, field) % 2:
                raise FieldError(field, f"{field} must be even (4:2:0 video needs even sizes)")
        return self

    def box(self, shape: Shape) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the crop in a picture of `shape`."""
        if self.aspect_ratio is None:
            return self.x, self.y, self.width, self.height
        across, down = (int(part) for part in self.aspect_ratio.split(":"))
        width = min(shape.width, shape.height * across / down)
        height = min(shape.height, shape.width * down / across)
        width, height = int(width) // 2 * 2, int(height) // 2 * 2
        return (shape.width - width) // 2, (shape.height - height) // 2, width, height

    def problem(self, shape):
        x, y, width, height = self.box(shape)
        if width < 2 or height < 2:
            return "aspect_ratio", f"{self.aspect_ratio} leaves no picture of {shape.width}×{shape.height}"
        if x + width > shape.width:
            return "width", f"x + width ({x + width}) is past the picture's width ({shape.width}) at this point"
        if y + height > shape.height:
            return "height", f"y + height ({y + height}) is past the picture's height ({shape.height}) at this point"
        return None

    def reshape(self, shape):
        _, _, width, height = self.box(shape)
        return replace(shape, width=width, height=height)

    def video(self, stream, shape):
        x, y, width, height = self.box(shape)
        return stream.filter("crop", w=width, h=height, x=x, y=y, exact=1)


class Grayscale(Step):
    name: Literal["grayscale"]

    def video(self, stream, shape):
        return stream.filter("hue", s=0)


class Stabilize(Step):
    """Two passes: vidstabdetect writes the camera's motion to a file, vidstabtransform smooths it out."""

    name: Literal["stabilize"]
    shakiness: int = Field(5, ge=1, le=10, description="How shaky the video is: 1 little, 10 very.")
    smoothing: int = Field(10, ge=1, le=100, description="Frames each way averaged for the camera path.")


STEPS = (Deinterlace, Denoise, Sharpen, Eq, Speed, Reverse, Fade, Rotate, Flip, Crop, Grayscale, Stabilize)
Filter = Annotated[Union[STEPS], Field(discriminator="name")]  # noqa: UP007
NAMES = [get_args(step.model_fields["name"].annotation)[0] for step in STEPS]


def untagged(error: dict) -> dict:
    """A pydantic error of one filter, located without the union's tag: `3.amount`, not `3.sharpen.amount`."""
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx")
    if kind == "union_tag_invalid":
        message = f"'{ctx['tag']}' is not a filter; use one of: {', '.join(NAMES)}"
        kind, loc, ctx = PydanticCustomError("unknown_filter", message), (*loc, "name"), None
    elif kind == "union_tag_not_found":
        kind, loc, ctx = "missing", (*loc, "name"), None
    elif len(loc) >= 2 and loc[1] in NAMES:
        loc = (loc[0], *loc[2:])
    return {"type": kind, "loc": loc, "input": error["input"], **({"ctx": ctx} if ctx else {})}


def stabilize_available() -> bool:
    return available_filters() >= STABILIZE_FILTERS


class FiltersParams(Params):
    filters: list[Filter] = Field(..., min_length=1, max_length=MAX_FILTERS, description="Applied in order.")
    format: Format = Field("mp4", description="Output container; video h264 (vp9 for webm), audio aac (opus).")
    preset: Preset = Field("veryfast", description="Encoder speed.")

    @field_validator("filters", mode="wrap")
    @classmethod
    def _locate(cls, value, handler):
        try:
            return handler(value)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(exc.title, [untagged(e) for e in exc.errors()]) from None

    @model_validator(mode="after")
    def _stabilize(self):
        indexes = [i for i, step in enumerate(self.filters) if isinstance(step, Stabilize)]
        if indexes and not stabilize_available():
            raise FieldError(f"filters.{indexes[0]}.name", "stabilize needs FFmpeg with vid.stab; this build has none")
        if len(indexes) > 1:
            raise FieldError(f"filters.{indexes[1]}.name", "stabilize can be in the chain once")
        return self

    @property
    def encoding(self) -> TranscodeParams:
        return TranscodeParams(format=self.format, preset=self.preset)


def source_shape(asset) -> Shape:
    """The picture as decoded: FFmpeg applies a rotation tag (phone videos) before any filter."""
    width, height = asset.width or 0, asset.height or 0
    video = next((s for s in (asset.probe or {}).get("streams", []) if s.get("codec_type") == "video"), {})
    rotation = next((d.get("rotation") for d in video.get("side_data_list", []) if "rotation" in d), 0)
    if rotation and round(rotation / 90) % 2:
        width, height = height, width
    return Shape(width=width, height=height, duration=asset.duration or 0.0, fps=asset.fps)


def chain_problems(steps: list[Step], shape: Shape) -> dict[str, list[str]]:
    for index, step in enumerate(steps):
        problem = step.problem(shape)
        if problem:
            field, message = problem
            return {f"params.filters.{index}.{field}": [message]}
        shape = step.reshape(shape)
    return {}


class Filters(Operation):
    name = "filters"
    description = (
        "Apply a chain of named filters: deinterlace, denoise, sharpen, eq, speed, reverse, fade, rotate, flip, "
        "crop, grayscale, stabilize."
    )
    params_model = FiltersParams

    def capabilities(self) -> dict:
        return {"stabilize": stabilize_available()}

    def check_inputs(self, assets: list, params: FiltersParams) -> dict[str, list[str]]:
        errors = super().check_inputs(assets, params)
        return errors or chain_problems(params.filters, source_shape(assets[0]))

    def run(self, ctx, params: FiltersParams) -> Outcome:
        source = ctx.inputs[0]
        self.require_video(source)
        shape = source_shape(source)
        path = str(ctx.local_path(source))
        transforms = ctx.workdir / TRANSFORMS
        span = (0.0, 99.0)
        stabilize = next((i for i, step in enumerate(params.filters) if isinstance(step, Stabilize)), None)
        if stabilize is not None:
            self.detect_motion(ctx, path, params.filters[: stabilize + 1], shape, transforms)
            span = (40.0, 99.0)

        stream = ffmpeg.input(path, **ctx.input_options())
        video, final = self.video_chain(stream, params.filters, shape, transforms)
        if final.width % 2 or final.height % 2:
            video = video.filter("scale", w="trunc(iw/2)*2", h="trunc(ih/2)*2")
        video_codec, audio_codec = DEFAULT_CODECS[params.format]
        streams, output = [video], video_args(params.encoding, video_codec)
        if source.has_audio:
            streams.append(self.audio_chain(stream["a:0"], params.filters, shape))
            output.update(audio_args(params.encoding, audio_codec))
        if params.format in ("mp4", "mov"):
            output["movflags"] = "+faststart"
        out_path = ctx.output_path(f"output.{params.format}")
        args = ffmpeg.output(*streams, str(out_path), **output).get_args()
        ctx.ffmpeg(args, duration=final.duration or None, stage="filtering", span=span)
        result = {
            "filters": [step.name for step in params.filters],
            "width": final.width // 2 * 2,
            "height": final.height // 2 * 2,
            "duration": round(final.duration, 3),
        }
        return Outcome(files=[OutputFile(out_path, f"{ctx.stem(source)}.{params.format}")], result=result)

    def detect_motion(self, ctx, path: str, steps: list[Step], shape: Shape, transforms) -> None:
        """Stabilize's first pass: the chain up to it, then vidstabdetect writes the motion to `transforms`."""
        stream = ffmpeg.input(path, **ctx.input_options())
        video, before = self.video_chain(stream, steps[:-1], shape)
        video = video.filter("vidstabdetect", result=filter_path(transforms), shakiness=steps[-1].shakiness)
        args = ffmpeg.output(video, "-", format="null").get_args()
        ctx.ffmpeg(args, duration=before.duration or None, stage="analysing_motion", span=(0.0, 40.0))

    @staticmethod
    def video_chain(stream, steps: list[Step], shape: Shape, transforms=None):
        """The video through `steps`, and its shape after them; stabilize reads `transforms` (pass 2)."""
        video = stream["v:0"]
        for step in steps:
            if isinstance(step, Stabilize):
                video = video.filter("vidstabtransform", input=filter_path(transforms), smoothing=step.smoothing)
            else:
                video = step.video(video, shape)
            shape = step.reshape(shape)
        return video, shape

    @staticmethod
    def audio_chain(audio, steps: list[Step], shape: Shape):
        for step in steps:
            if step.changes_audio:
                audio = step.audio(audio, shape)
            shape = step.reshape(shape)
        return audio
