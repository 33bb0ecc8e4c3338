"""thumbnail: still images of a video: frames at given times, evenly spaced frames, the most representative
frame, or a sprite sheet with a WebVTT track for scrubbing previews in players."""

import math
import re
from dataclasses import dataclass
from typing import Annotated, Literal

import ffmpeg
from pydantic import Field, PlainValidator, WithJsonSchema, model_validator

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.probe import run_ffprobe
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params

ImageFormat = Literal["jpg", "png", "webp"]
Quality = Literal["low", "medium", "high"]

MODES = ("times", "count", "best", "sprite")
MAX_FRAMES = 50
PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)%")
JPEG_QSCALE = {"low": 8, "medium": 4, "high": 2}  # mjpeg -q:v: 2 is the best, 31 the worst
WEBP_QUALITY = {"low": 50, "medium": 75, "high": 90}

SPRITE_INTERVAL = 10.0
SPRITE_COLUMNS = 10
SPRITE_WIDTH = 160
MAX_SHEET_SIDE = 16383  # WebP's limit, kept for every format so a sheet stays loadable in any browser

BEST_SAMPLES = 20  # candidate frames the `thumbnail` filter chooses from
BEST_SEEK_OVER = 60.0  # seconds: shorter inputs are decoded whole, longer ones only around each sample
SAMPLE_WINDOW = 0.5  # seconds decoded after each sample's seek point
BLACK_LUMA = 32  # a frame is black when at least 90 % of its pixels have a luma (8 bit) at or below this


def _time_point(value: object) -> float | str:
    if isinstance(value, str):
        match = PERCENT.fullmatch(value)
        if not match:
            raise ValueError('a time is seconds (a number) or a percentage of the duration such as "50%"')
        if float(match[1]) >= 100:
            raise ValueError("a percentage must be below 100%")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError('a time is seconds (a number) or a percentage of the duration such as "50%"')
    if value < 0:
        raise ValueError("a time must be 0 or more seconds")
    return float(value)


TimePoint = Annotated[
    float | str,
    PlainValidator(_time_point),
    WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?%$"}]}
    ),
]


class ThumbnailParams(Params):
    times: list[TimePoint] | None = Field(
        None, min_length=1, max_length=MAX_FRAMES, description='One frame per entry: seconds or "N%" of the duration.'
    )
    count: int | None = Field(None, ge=1, le=MAX_FRAMES, description="N evenly spaced frames, none at the very ends.")
    best: bool = Field(False, description="One representative, non-black frame.")
    sprite: bool = Field(False, description="One sprite sheet of frames every `interval` seconds, plus a WebVTT track.")
    interval: float | None = Field(None, ge=0.1, le=3600, description="Sprite only: seconds per tile; default 10.")
    columns: int | None = Field(None, ge=1, le=100, description="Sprite only: tiles per row; default 10.")
    format: ImageFormat = Field("jpg", description="Image format.")
    width: int | None = Field(
        None, ge=16, le=7680, description="Even; the height keeps the aspect ratio. Default: the source's (160 tiles)."
    )
    quality: Quality | None = Field(None, description="jpg and webp only; default medium.")

    @model_validator(mode="after")
    def _consistent(self):
        given = [name for name in MODES if getattr(self, name) not in (None, False)]
        if len(given) > 1:
            raise FieldError(given[1], f"give one of times, count, best or sprite, not {' and '.join(given)}")
        if not self.sprite:
            for name in ("interval", "columns"):
                if getattr(self, name) is not None:
                    raise FieldError(name, f"{name} is for sprite sheets (sprite: true)")
        if self.width is not None and self.width % 2:
            raise FieldError("width", f"width must be even, got {self.width}")
        if self.quality and self.format == "png":
            raise FieldError("quality", "png is lossless: quality is for jpg and webp")
        if self.sprite and self.sheet_columns * self.tile_width > MAX_SHEET_SIDE:
            raise FieldError(
                "columns", f"{self.sheet_columns} columns of {self.tile_width} px exceed the {MAX_SHEET_SIDE} px sheet"
            )
        return self

    @property
    def mode(self) -> str:
        return next((name for name in MODES if getattr(self, name) not in (None, False)), "middle")

    @property
    def needs_duration(self) -> bool:
        return self.times is None or any(isinstance(point, str) for point in self.times)

    @property
    def sheet_columns(self) -> int:
        return self.columns or SPRITE_COLUMNS

    @property
    def tile_width(self) -> int:
        return self.width or SPRITE_WIDTH

    @property
    def sprite_interval(self) -> float:
        return self.interval or SPRITE_INTERVAL


@dataclass
class SpriteLayout:
    tiles: int
    columns: int
    rows: int

    @classmethod
    def of(cls, params: ThumbnailParams, duration: float) -> "SpriteLayout":
        # The fps filter (round=up) gives one frame per started interval; rounding drops float noise.
        tiles = max(1, math.ceil(round(duration / params.sprite_interval, 6)))
        columns = min(params.sheet_columns, tiles)
        return cls(tiles, columns, math.ceil(tiles / columns))


def video_end(asset) -> float | None:
    """Where the video stream ends: audio can outlast it, so the stream's duration wins over the container's."""
    for stream in asset.probe.get("streams", []):
        if stream.get("codec_type") == "video" and not stream.get("disposition", {}).get("attached_pic"):
            try:
                return float(stream["duration"])
            except (KeyError, TypeError, ValueError):
                break
    return asset.duration


def seconds(point: float | str, duration: float | None) -> float:
    if isinstance(point, str):
        return duration * float(point[:-1]) / 100
    return point


def frame_times(params: ThumbnailParams, duration: float | None) -> list[float]:
    if params.times is not None:
        return [seconds(point, duration) for point in params.times]
    if params.count:
        return [duration * (i + 1) / (params.count + 1) for i in range(params.count)]
    return [duration / 2]


def image_args(params: ThumbnailParams) -> dict:
    """One still image per output: image2 with -update, so the file name needs no %d pattern."""
    quality = params.quality or "medium"
    if params.format == "jpg":
        codec = {"c:v": "mjpeg", "q:v": JPEG_QSCALE[quality]}
    elif params.format == "webp":
        codec = {"c:v": "libwebp", "quality": WEBP_QUALITY[quality]}
    else:
        codec = {"c:v": "png"}
    return {"f": "image2", "update": 1, "frames:v": 1, **codec}


def scaled(stream, width: int | None):
    return stream.filter("scale", width, -2) if width else stream


def extract_frames(ctx, params: ThumbnailParams, source) -> Outcome:
    """Every asked frame in one FFmpeg: one input per frame, each seeking (keyframe, then decode to the time)
    and feeding its own output, so only the few frames before each time are decoded. A time asked twice gives
    one image."""
    path = str(ctx.local_path(source))
    end = video_end(source)
    last_frame = end - 1.5 / (source.fps or 25) if end else math.inf  # a seek past the last frame finds none
    times = [round(max(0.0, min(t, last_frame)), 3) for t in frame_times(params, end)]
    unique = list(dict.fromkeys(times))
    digits = len(str(len(unique)))
    outputs, files = [], {}
    for index, time in enumerate(unique, 1):
        stream = scaled(ffmpeg.input(path, ss=time, **ctx.input_options())["v:0"], params.width)
        out_path = ctx.output_path(f"frame-{index}.{params.format}")
        outputs.append(ffmpeg.output(stream, str(out_path), **image_args(params)))
        suffix = f"-{index:0{digits}d}" if len(unique) > 1 else ""
        files[time] = OutputFile(out_path, f"{ctx.stem(source)}-thumb{suffix}.{params.format}")
    ctx.ffmpeg(ffmpeg.merge_outputs(*outputs).get_args(), duration=None, stage="thumbnailing")
    for time, file in files.items():
        if not file.path.exists():
            raise MediaError("invalid_time", f"The input has no video frame at {time:g} s: its video ends earlier.")
    frames = [{"time": time, "name": files[time].name} for time in times]
    return Outcome(files=list(files.values()), result={"mode": params.mode, "frames": frames})


def samples(ctx, source, duration: float):
    """About BEST_SAMPLES frames spread over the input, with their source times as timestamps."""
    path = str(ctx.local_path(source))
    if duration <= BEST_SEEK_OVER:
        step = round(duration / BEST_SAMPLES, 6)
        video = ffmpeg.input(path, **ctx.input_options())["v:0"]
        return video.filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{step})")
    picks = []
    for i in range(BEST_SAMPLES):
        time = round(duration * (i + 0.5) / BEST_SAMPLES, 3)
        video = ffmpeg.input(path, ss=time, t=SAMPLE_WINDOW, **ctx.input_options())["v:0"]
        picks.append(video.trim(end_frame=1).setpts(f"PTS+{time}/TB"))
    return ffmpeg.filter(picks, "interleave", nb_inputs=len(picks))


def pick_best(ctx, params: ThumbnailParams, source, out_path, *, skip_black: bool, span) -> float | None:
    """Run the `thumbnail` filter over the samples; the chosen frame's time, or None when every sample was
    black (and skipped)."""
    stream = scaled(samples(ctx, source, video_end(source)), params.width).filter("format", "yuv420p")
    if skip_black:
        stream = stream.filter("signalstats").filter(
            "metadata", mode="select", key="lavfi.signalstats.YHIGH", value=BLACK_LUMA, function="greater"
        )
    stream = stream.filter("thumbnail", n=2 * BEST_SAMPLES).filter("showinfo", checksum=0)
    lines: list[str] = []
    args = ffmpeg.output(stream, str(out_path), **image_args(params)).get_args()
    ctx.ffmpeg(args, duration=None, stage="thumbnailing", span=span, capture=lines)
    times = [float(m[1]) for line in lines if "showinfo" in line for m in re.finditer(r"pts_time:([0-9.]+)", line)]
    return round(times[-1], 3) if out_path.exists() and times else None


def best_frame(ctx, params: ThumbnailParams, source) -> Outcome:
    out_path = ctx.output_path(f"best.{params.format}")
    time = pick_best(ctx, params, source, out_path, skip_black=True, span=(0, 80))
    if time is None:  # an all-black input still gets its most representative frame
        time = pick_best(ctx, params, source, out_path, skip_black=False, span=(80, 99))
    if time is None:
        raise MediaError("no_frame", "FFmpeg found no video frame to choose from.")
    name = f"{ctx.stem(source)}-best.{params.format}"
    return Outcome(
        files=[OutputFile(out_path, name)], result={"mode": "best", "frames": [{"time": time, "name": name}]}
    )


def timestamp(seconds_: float) -> str:
    millis = round(seconds_ * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def webvtt(sheet_name: str, layout: SpriteLayout, size: tuple[int, int], interval: float, duration: float) -> str:
    """A WebVTT thumbnail track: cue i covers [i·interval, (i+1)·interval) and points at tile i of the sheet."""
    width, height = size
    lines = ["WEBVTT", ""]
    for i in range(layout.tiles):
        start, end = i * interval, min((i + 1) * interval, duration)
        x, y = (i % layout.columns) * width, (i // layout.columns) * height
        lines += [f"{timestamp(start)} --> {timestamp(end)}", f"{sheet_name}#xywh={x},{y},{width},{height}", ""]
    return "\n".join(lines)


def sprite_sheet(ctx, params: ThumbnailParams, source) -> Outcome:
    duration = video_end(source)
    layout = SpriteLayout.of(params, duration)
    interval = params.sprite_interval
    video = ffmpeg.input(str(ctx.local_path(source)), **ctx.input_options())["v:0"]
    # round=up: the tile of interval i is the frame on screen at i·interval (not the one nearest to it).
    video = video.filter("fps", fps=f"1/{interval:g}", round="up").filter("scale", params.tile_width, -2)
    video = video.filter("tile", layout=f"{layout.columns}x{layout.rows}", nb_frames=layout.tiles)
    sheet_path = ctx.output_path(f"sprite.{params.format}")
    args = ffmpeg.output(video, str(sheet_path), **image_args(params)).get_args()
    ctx.ffmpeg(args, duration=None, stage="thumbnailing")

    [sheet] = [s for s in run_ffprobe(sheet_path)["streams"] if s.get("codec_type") == "video"]
    tile = (sheet["width"] // layout.columns, sheet["height"] // layout.rows)
    sheet_name = f"{ctx.stem(source)}-sprite.{params.format}"
    vtt_path = ctx.output_path("sprite.vtt")
    vtt_path.write_text(webvtt(sheet_name, layout, tile, interval, duration), encoding="utf-8")
    vtt_name = f"{ctx.stem(source)}-sprite.vtt"
    sprite = {
        "name": sheet_name,
        "vtt": vtt_name,
        "tiles": layout.tiles,
        "columns": layout.columns,
        "rows": layout.rows,
        "tile_width": tile[0],
        "tile_height": tile[1],
        "interval": interval,
    }
    files = [OutputFile(sheet_path, sheet_name), OutputFile(vtt_path, vtt_name)]
    return Outcome(files=files, result={"mode": "sprite", "sprite": sprite})


def sprite_errors(params: ThumbnailParams, source, duration: float) -> dict[str, list[str]]:
    """A sheet taller than MAX_SHEET_SIDE, estimated from the source's aspect ratio."""
    if not (source.width and source.height):
        return {}
    layout = SpriteLayout.of(params, duration)
    tile_height = max(2, round(params.tile_width * source.height / source.width / 2) * 2)
    if layout.rows * tile_height <= MAX_SHEET_SIDE:
        return {}
    most = (MAX_SHEET_SIDE // tile_height) * layout.columns
    shortest = math.ceil(duration / most * 10) / 10
    return {
        "params.interval": [
            f"{layout.tiles} tiles of {params.tile_width}x{tile_height} make a sheet taller than {MAX_SHEET_SIDE} px: "
            f"use an interval of at least {shortest:g} s, a smaller width or more columns"
        ]
    }


class Thumbnail(Operation):
    name = "thumbnail"
    description = "Still images of a video: frames at times, evenly spaced, the best frame, or a sprite sheet + WebVTT."
    params_model = ThumbnailParams

    def check_inputs(self, assets: list, params: ThumbnailParams) -> dict[str, list[str]]:
        """Also the checks that need the input's duration, so they answer 400 at submit time."""
        errors = super().check_inputs(assets, params)
        if errors:
            return errors
        source = assets[0]
        end = video_end(source)
        if end is None:
            if params.needs_duration:
                return {"inputs.0": [f"{source.id}: its duration is unknown; give times in seconds"]}
            return {}
        for index, point in enumerate(params.times or []):
            if isinstance(point, float) and point >= end:
                errors[f"params.times.{index}"] = [f"{point:g} s is past the end of the video ({end:.2f} s)"]
        if params.sprite:
            errors |= sprite_errors(params, source, end)
        return errors

    def run(self, ctx, params: ThumbnailParams) -> Outcome:
        source = ctx.inputs[0]
        self.require_video(source)
        if params.sprite:
            return sprite_sheet(ctx, params, source)
        if params.best:
            return best_frame(ctx, params, source)
        return extract_frames(ctx, params, source)
