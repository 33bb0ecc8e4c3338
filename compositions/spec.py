"""The composition spec: clips on a timeline, audio, overlays and output, validated with field paths.

A clip's `start_time`/`end_time` place it on the output timeline; `in` (alias `trim_start`) is where it starts in
its source, `trim_end` (the seed's alias) where it ends there. A clip without `start_time` follows the previous
one, overlapping it by the previous clip's transition (three 4 s clips with 0.5 s transitions = 11 s)."""

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from django.conf import settings
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from jobs.operations.base import FieldError
from jobs.operations.subtitles import SubtitleStyle

COLOR = r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$"
RESOLUTIONS = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080, "4k": 2160}
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5)}
# The xfade transitions offered (FFmpeg 5.1 has them all).
TRANSITIONS = Literal[
    "fade", "dissolve", "fadeblack", "fadewhite", "wipeleft", "wiperight", "wipeup", "wipedown",
    "slideleft", "slideright", "slideup", "slidedown", "circleopen", "circleclose", "circlecrop", "rectcrop",
    "radial", "smoothleft", "smoothright", "smoothup", "smoothdown", "pixelize", "distance", "hblur",
]  # fmt: skip
POSITIONS = Literal["top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"]
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Transition(Strict):
    type: TRANSITIONS = "fade"
    duration: float = Field(0.5, gt=0, le=5)


class Reframe(Strict):
    """A moving crop of a video clip's source, applied before `fit` (highlight clips follow the speaker's face)."""

    width: int = Field(ge=16, le=7680, description="Crop width in source pixels.")
    height: int = Field(ge=16, le=4320, description="Crop height in source pixels.")
    points: list[tuple[float, float, float]] = Field(
        min_length=1,
        max_length=20000,
        description="[t, x, y]: the crop's top-left in source pixels t seconds after the clip's `in`, sorted by t; "
        "linear between points, two points at one t are a jump.",
    )

    @model_validator(mode="after")
    def _points(self):
        times = [t for t, _, _ in self.points]
        if any(later < earlier for earlier, later in zip(times, times[1:], strict=False)):
            raise FieldError("points", "must be sorted by time")
        if any(value < 0 for point in self.points for value in point):
            raise FieldError("points", "times and positions cannot be negative")
        return self


class Clip(Strict):
    asset: str | None = Field(None, max_length=32, description="A video (or image) asset id.")
    video_url: str | None = Field(None, max_length=2000, description="Fetched through the SSRF-checked importer.")
    image: str | None = Field(None, max_length=32, description="An image asset shown as a still.")
    start_time: float | None = Field(None, ge=0, description="Place on the output timeline; default: after the last.")
    end_time: float | None = Field(None, gt=0)
    duration: float | None = Field(None, gt=0)
    in_: float = Field(0, ge=0, validation_alias=AliasChoices("in", "trim_start"), serialization_alias="in")
    trim_end: float | None = Field(None, gt=0, description="Where the clip ends in its source.")
    volume: float = Field(1.0, ge=0, le=4)
    speed: float = Field(1.0, ge=0.25, le=4)
    fit: Literal["cover", "contain", "contain-blur", "stretch"] = "contain"
    ken_burns: bool = Field(False, description="Images: a slow zoom in.")
    transition: Transition | None = Field(None, description="Into the next clip.")
    reframe: Reframe | None = Field(None, description="Videos: a crop that moves over time, before fit.")

    @model_validator(mode="after")
    def _one_source(self):
        given = [name for name in ("asset", "video_url", "image") if getattr(self, name)]
        if len(given) != 1:
            raise FieldError("asset", "give exactly one of asset, video_url or image")
        if self.end_time is not None and self.duration is not None:
            raise FieldError("duration", "give end_time or duration, not both")
        if self.start_time is not None and self.end_time is not None and self.end_time <= self.start_time:
            raise FieldError("end_time", "must be after start_time")
        if self.trim_end is not None and self.trim_end <= self.in_:
            raise FieldError("trim_end", "must be after in")
        if self.image and self.end_time is None and self.duration is None:
            raise FieldError("duration", "an image needs a duration or end_time")
        if self.image and self.reframe:
            raise FieldError("reframe", "reframe applies to video clips")
        return self


class Audio(Strict):
    music_url: str | None = Field(None, max_length=2000)
    music_asset: str | None = Field(None, max_length=32)
    music_volume: float = Field(1.0, ge=0, le=4)
    music_loop: bool = True
    fade_in: float = Field(0, ge=0, le=30)
    fade_out: float = Field(0, ge=0, le=30)
    voiceover_url: str | None = Field(None, max_length=2000)
    voiceover_asset: str | None = Field(None, max_length=32)
    voiceover_volume: float = Field(1.0, ge=0, le=4)
    voiceover_start: float = Field(0, ge=0)
    original_audio_volume: float = Field(1.0, ge=0, le=4)
    ducking: bool = Field(False, description="Lower the music under the voice-over (sidechain compression).")
    duck_db: float = Field(12, ge=3, le=40, description="How far the music drops under the voice-over.")
    normalize: bool = Field(False, description="Normalise the mix to target_lufs.")
    target_lufs: float = Field(-14, ge=-40, le=-5)

    @model_validator(mode="after")
    def _sources(self):
        if self.music_url and self.music_asset:
            raise FieldError("music_asset", "give music_url or music_asset, not both")
        if self.voiceover_url and self.voiceover_asset:
            raise FieldError("voiceover_asset", "give voiceover_url or voiceover_asset, not both")
        if self.ducking and not (self.voiceover_url or self.voiceover_asset):
            raise FieldError("ducking", "ducking needs a voice-over")
        return self

    @property
    def music(self) -> str | None:
        return self.music_asset or self.music_url

    @property
    def voiceover(self) -> str | None:
        return self.voiceover_asset or self.voiceover_url


class Box(Strict):
    color: str = Field("#000000", pattern=COLOR)
    opacity: float = Field(0.5, ge=0, le=1)
    padding: int = Field(10, ge=0, le=200)


class Stroke(Strict):
    color: str = Field("#000000", pattern=COLOR)
    width: int = Field(2, ge=1, le=20)


class Placed(Strict):
    position: POSITIONS = "center"
    x: float | None = Field(None, ge=0, le=1, description="Left edge as a fraction of the width, instead of position.")
    y: float | None = Field(None, ge=0, le=1, description="Top edge as a fraction of the height.")
    start_time: float = Field(0, ge=0)
    end_time: float | None = Field(None, gt=0, description="Default: the end of the video.")
    fade_in: float = Field(0, ge=0, le=10)
    fade_out: float = Field(0, ge=0, le=10)

    @model_validator(mode="after")
    def _times(self):
        if self.end_time is not None and self.end_time <= self.start_time:
            raise FieldError("end_time", "must be after start_time")
        if (self.x is None) != (self.y is None):
            raise FieldError("x", "give both x and y, or a position")
        return self


class TextOverlay(Placed):
    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=500)
    font: str = Field("DejaVu Sans", max_length=100, pattern=r"^[A-Za-z0-9 ._-]+$")
    font_size: int = Field(48, ge=8, le=400)
    font_color: str = Field("#FFFFFF", pattern=COLOR)
    background: Box | None = None
    stroke: Stroke | None = None
    shadow: bool = False
    align: Literal["left", "center", "right"] = "center"
    max_width: float = Field(0.9, gt=0.1, le=1, description="Lines wrap at this fraction of the width.")


class ImageOverlay(Placed):
    type: Literal["image"]
    asset: str = Field(max_length=32)
    scale: float = Field(0.2, gt=0, le=1, description="Width as a fraction of the video's width.")
    opacity: float = Field(1.0, ge=0, le=1)


Overlay = Annotated[TextOverlay | ImageOverlay, Field(discriminator="type")]


class Captions(Strict):
    asset: str = Field(max_length=32, description="An SRT, WebVTT or ASS asset, burned in.")
    style: SubtitleStyle | None = Field(None, description="As the subtitles operation's style (SRT and WebVTT).")


class Output(Strict):
    format: Literal["mp4", "mov", "webm"] = "mp4"
    codec: Literal["h264", "prores", "vp9"] | None = Field(None, description="Default: h264 (vp9 for webm).")
    resolution: Literal["360p", "480p", "720p", "1080p", "4k"] | None = Field(None, description="The short side.")
    width: int | None = Field(None, ge=16, le=7680)
    height: int | None = Field(None, ge=16, le=4320)
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:5"] = "16:9"
    fps: float = Field(30, gt=0, le=60)
    quality: Literal["low", "medium", "high"] = "medium"
    background: str = Field("#000000", pattern=COLOR)
    poster: float | None = Field(None, ge=0, description="Also make a JPEG poster at this time.")
    preview: bool = Field(False, description="A fast 360p proxy (x264 ultrafast) instead of the real render.")

    @model_validator(mode="after")
    def _size(self):
        if self.resolution and (self.width or self.height):
            raise FieldError("resolution", "give resolution or width/height, not both")
        if (self.width is None) != (self.height is None):
            raise FieldError("width", "give both width and height")
        for side in ("width", "height"):
            value = getattr(self, side)
            if value is not None and value % 2:
                raise FieldError(side, "must be even")
        codec = self.codec or ("vp9" if self.format == "webm" else "h264")
        allowed = {"mp4": {"h264"}, "mov": {"h264", "prores"}, "webm": {"vp9"}}[self.format]
        if codec not in allowed:
            raise FieldError("codec", f"{self.format} takes {', '.join(sorted(allowed))}")
        return self

    @property
    def video_codec(self) -> str:
        return self.codec or ("vp9" if self.format == "webm" else "h264")

    @property
    def size(self) -> tuple[int, int]:
        if self.width and self.height:
            return self.width, self.height
        short = RESOLUTIONS[self.resolution or "720p"]
        wide, tall = ASPECTS[self.aspect_ratio]
        long_side = round(short * max(wide, tall) / min(wide, tall) / 2) * 2
        return (long_side, short) if wide >= tall else (short, long_side)


class CompositionSpec(Strict):
    title: str = Field("", max_length=200)
    clips: list[Clip] = Field(min_length=1)
    audio: Audio = Field(default_factory=Audio)
    overlays: list[Overlay] = Field(default_factory=list)
    captions: Captions | None = None
    output: Output = Field(default_factory=Output)
    merge: dict[str, str] = Field(default_factory=dict, description="Fills {{NAME}} in texts and URLs.")

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data):
        """Overlays are text unless they say otherwise; fill {{NAME}} placeholders from `merge`."""
        if isinstance(data, dict) and isinstance(data.get("overlays"), list):
            overlays = [{"type": "text", **item} if isinstance(item, dict) else item for item in data["overlays"]]
            data = {**data, "overlays": overlays}
        if not isinstance(data, dict) or not isinstance(data.get("merge"), dict):
            return data
        values = {str(key): str(value) for key, value in data["merge"].items()}

        def fill(node):
            if isinstance(node, str):
                return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), node)
            if isinstance(node, list):
                return [fill(item) for item in node]
            if isinstance(node, dict):
                return {key: fill(value) if key != "merge" else value for key, value in node.items()}
            return node

        return fill(data)

    @model_validator(mode="after")
    def _limits(self):
        if len(self.clips) > settings.MEDIAHUB_COMPOSITION_MAX_CLIPS:
            raise FieldError("clips", f"at most {settings.MEDIAHUB_COMPOSITION_MAX_CLIPS} clips")
        if len(self.overlays) > settings.MEDIAHUB_COMPOSITION_MAX_OVERLAYS:
            raise FieldError("overlays", f"at most {settings.MEDIAHUB_COMPOSITION_MAX_OVERLAYS} overlays")
        width, height = self.output.size
        if width * height > 3840 * 2160:
            raise FieldError("output.resolution", "at most 3840×2160 pixels")
        return self


# Where the spec names an asset → the kinds it accepts.
AUDIO_KINDS = ("audio", "video")


def named_assets(spec: CompositionSpec) -> list[tuple[str, str, tuple[str, ...]]]:
    """(field path, asset id, accepted kinds) for every asset the spec names."""
    named = []
    for index, clip in enumerate(spec.clips):
        if clip.asset:
            named.append((f"clips.{index}.asset", clip.asset, ("video", "image")))
        if clip.image:
            named.append((f"clips.{index}.image", clip.image, ("image",)))
    if spec.audio.music_asset:
        named.append(("audio.music_asset", spec.audio.music_asset, AUDIO_KINDS))
    if spec.audio.voiceover_asset:
        named.append(("audio.voiceover_asset", spec.audio.voiceover_asset, AUDIO_KINDS))
    for index, overlay in enumerate(spec.overlays):
        if getattr(overlay, "asset", None):
            named.append((f"overlays.{index}.asset", overlay.asset, ("image",)))
    if spec.captions:
        named.append(("captions.asset", spec.captions.asset, ("subtitle",)))
    return named


@dataclass
class Placement:
    """A clip resolved onto the output timeline."""

    index: int
    clip: Clip
    start: float  # on the output timeline
    end: float
    source_in: float
    transition: Transition | None  # into the next clip (None for the last)

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def source_length(self) -> float:
        return self.length * self.clip.speed


def place_clips(spec: CompositionSpec, durations: dict[int, float | None]) -> list[Placement]:
    """Put the clips on the timeline; `durations[i]` is clip i's source duration (None for images).

    Raises FieldError(`clips.N.<field>`) for overlaps without a transition, trims past a source's end, and a
    total past MEDIAHUB_COMPOSITION_MAX_SECONDS."""
    placed: list[Placement] = []
    for index, clip in enumerate(spec.clips):
        path = f"clips.{index}"
        previous = placed[-1] if placed else None
        overlap = previous.clip.transition.duration if previous and previous.clip.transition else 0.0
        start = clip.start_time if clip.start_time is not None else (previous.end - overlap if previous else 0.0)
        source = durations.get(index)
        if source is not None and clip.in_ >= source:
            raise FieldError(f"{path}.in", f"clip {index} starts at {clip.in_:.2f} s; the source lasts {source:.2f} s")
        if clip.end_time is not None:
            length = clip.end_time - start
        elif clip.duration is not None:
            length = clip.duration
        elif clip.trim_end is not None:
            length = (clip.trim_end - clip.in_) / clip.speed
        elif source is not None:
            length = (source - clip.in_) / clip.speed
        else:
            raise FieldError(f"{path}.duration", "give a duration or end_time")
        if length <= 0:
            raise FieldError(f"{path}.end_time", "must be after start_time")
        if source is not None:
            needed = clip.in_ + length * clip.speed
            if needed > source + 0.05:
                raise FieldError(
                    f"{path}.end_time",
                    f"clip {index} needs its source up to {needed:.2f} s, but the source lasts {source:.2f} s",
                )
        if previous is not None:
            gap = start - previous.end
            if gap < -1e-6:
                if not previous.clip.transition:
                    raise FieldError(
                        f"{path}.start_time", f"overlaps clip {index - 1}; give clip {index - 1} a transition"
                    )
                if abs(-gap - overlap) > 1e-3:
                    raise FieldError(
                        f"{path}.start_time",
                        f"overlaps clip {index - 1} by {-gap:.2f} s but its transition lasts {overlap:.2f} s",
                    )
            elif previous.clip.transition:
                raise FieldError(f"clips.{index - 1}.transition", "a transition needs the next clip to overlap it")
            if overlap and (overlap >= length or overlap >= previous.length):
                raise FieldError(f"clips.{index - 1}.transition.duration", "longer than a clip it joins")
        placed.append(Placement(index, clip, start, start + length, clip.in_, clip.transition))
    if placed[-1].transition is not None:
        raise FieldError(f"clips.{len(placed) - 1}.transition", "the last clip has no next clip to transition to")
    total = placed[-1].end
    if total > settings.MEDIAHUB_COMPOSITION_MAX_SECONDS:
        raise FieldError(
            "clips", f"the timeline lasts {total:.1f} s; at most {settings.MEDIAHUB_COMPOSITION_MAX_SECONDS} s"
        )
    return placed
