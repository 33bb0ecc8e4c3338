"""transcode: change container, codecs, size, frame rate and quality; optional start/end trim."""

from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.ffmpeg.errors import MediaError
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params

Format = Literal["mp4", "webm", "mov", "mkv"]
VideoCodec = Literal["h264", "h265", "vp9", "av1", "copy"]
AudioCodec = Literal["aac", "opus", "mp3", "copy", "none"]
Quality = Literal["low", "medium", "high"]
Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]

# The short side of the picture for each named resolution.
RESOLUTIONS = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080, "1440p": 1440, "4k": 2160}

ALLOWED = {
    "mp4": ({"h264", "h265", "vp9", "av1", "copy"}, {"aac", "mp3", "opus", "copy", "none"}),
    "mov": ({"h264", "h265", "copy"}, {"aac", "mp3", "copy", "none"}),
    "webm": ({"vp9", "av1", "copy"}, {"opus", "copy", "none"}),
    "mkv": ({"h264", "h265", "vp9", "av1", "copy"}, {"aac", "mp3", "opus", "copy", "none"}),
}
DEFAULT_CODECS = {"mp4": ("h264", "aac"), "mov": ("h264", "aac"), "webm": ("vp9", "opus"), "mkv": ("h264", "aac")}

# CRF per codec for each quality preset (lower is better); AV1 and VP9 use their own scales.
CRF = {
    "h264": {"low": 28, "medium": 23, "high": 18},
    "h265": {"low": 32, "medium": 28, "high": 23},
    "vp9": {"low": 40, "medium": 33, "high": 27},
    "av1": {"low": 45, "medium": 35, "high": 27},
}
AUDIO_BITRATE = {"low": "96k", "medium": "128k", "high": "192k"}
ENCODERS = {"h264": "libx264", "h265": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
AUDIO_ENCODERS = {"aac": "aac", "opus": "libopus", "mp3": "libmp3lame"}
# x264 preset names mapped onto libvpx's cpu-used and SVT-AV1's preset numbers.
VP9_SPEED = {
    "ultrafast": 8,
    "superfast": 7,
    "veryfast": 6,
    "faster": 5,
    "fast": 4,
    "medium": 3,
    "slow": 2,
    "slower": 1,
    "veryslow": 0,
}
SVT_PRESET = {
    "ultrafast": 12,
    "superfast": 11,
    "veryfast": 10,
    "faster": 9,
    "fast": 8,
    "medium": 7,
    "slow": 5,
    "slower": 4,
    "veryslow": 2,
}
BITRATE_PATTERN = r"^[1-9][0-9]*(\.[0-9]+)?[kKmM]?$"


class TranscodeParams(Params):
    format: Format = Field("mp4", description="Output container.")
    video_codec: VideoCodec | None = Field(None, description="Default: h264 (vp9 for webm).")
    audio_codec: AudioCodec | None = Field(None, description="Default: aac (opus for webm); none drops audio.")
    resolution: Literal["360p", "480p", "720p", "1080p", "1440p", "4k"] | None = Field(
        None, description="Short side of the picture; the aspect ratio is kept."
    )
    width: int | None = Field(None, ge=16, le=7680, description="Even; alone, keeps the aspect ratio.")
    height: int | None = Field(None, ge=16, le=4320, description="Even; alone, keeps the aspect ratio.")
    fps: float | None = Field(None, gt=0, le=240)
    quality: Quality | None = Field(None, description="CRF preset; default medium.")
    crf: int | None = Field(None, ge=0, le=63, description="Constant rate factor, instead of quality.")
    video_bitrate: str | None = Field(None, pattern=BITRATE_PATTERN, description="e.g. 2500k or 4M.")
    audio_bitrate: str | None = Field(None, pattern=BITRATE_PATTERN, description="e.g. 128k.")
    preset: Preset | None = Field(None, description="Encoder speed; default medium (fast for vp9/av1).")
    start: float | None = Field(None, ge=0, description="Seconds into the input where the output starts.")
    end: float | None = Field(None, gt=0, description="Seconds into the input where the output ends.")

    @model_validator(mode="after")
    def _consistent(self):
        video_codec, audio_codec = self.codecs
        allowed_video, allowed_audio = ALLOWED[self.format]
        if video_codec not in allowed_video:
            raise FieldError(
                "video_codec", f"video_codec {video_codec} cannot go in {self.format}; use {sorted(allowed_video)}"
            )
        if audio_codec not in allowed_audio:
            raise FieldError(
                "audio_codec", f"audio_codec {audio_codec} cannot go in {self.format}; use {sorted(allowed_audio)}"
            )
        for side in ("width", "height"):
            value = getattr(self, side)
            if value is not None and value % 2:
                raise FieldError(side, f"{side} must be even (4:2:0 video needs even sizes), got {value}")
        if self.resolution and (self.width or self.height):
            raise FieldError("resolution", "give resolution or width/height, not both")
        if sum(x is not None for x in (self.quality, self.crf, self.video_bitrate)) > 1:
            raise FieldError("quality", "give one of quality, crf or video_bitrate")
        if self.crf is not None and video_codec == "h264" and self.crf > 51:
            raise FieldError("crf", "crf for h264 is 0–51")
        if video_codec == "copy" and (
            self.resolution
            or self.width
            or self.height
            or self.fps
            or self.crf is not None
            or self.video_bitrate
            or self.quality
        ):
            raise FieldError(
                "video_codec", "video_codec copy keeps the stream as it is: drop size, fps and quality options"
            )
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise FieldError("end", "end must be after start")
        return self

    @property
    def codecs(self) -> tuple[str, str]:
        default_video, default_audio = DEFAULT_CODECS[self.format]
        return self.video_codec or default_video, self.audio_codec or default_audio


def scale_filter(params: TranscodeParams, width: int | None, height: int | None) -> dict | None:
    """Arguments of the scale filter for the asked size, or None to keep the source's (made even)."""
    if params.resolution:
        short = RESOLUTIONS[params.resolution]
        return {"w": f"if(gte(iw,ih),-2,{short})", "h": f"if(gte(iw,ih),{short},-2)"}
    if params.width or params.height:
        return {"w": params.width or -2, "h": params.height or -2}
    if (width and width % 2) or (height and height % 2):
        return {"w": "trunc(iw/2)*2", "h": "trunc(ih/2)*2"}
    return None


def video_args(params: TranscodeParams, codec: str) -> dict:
    if codec == "copy":
        return {"c:v": "copy"}
    args = {"c:v": ENCODERS[codec], "pix_fmt": "yuv420p"}
    quality = params.quality or "medium"
    rate = {"b:v": params.video_bitrate} if params.video_bitrate else {}
    crf = params.crf if params.crf is not None else CRF[codec][quality]
    if codec in ("h264", "h265"):
        args["preset"] = params.preset or "medium"
        args.update(rate or {"crf": crf})
        if codec == "h265":
            args["x265-params"] = "log-level=error"
            args["tag:v"] = "hvc1"  # so Apple players accept HEVC in MP4/MOV
    elif codec == "vp9":
        speed = VP9_SPEED[params.preset or "fast"]
        args.update({"deadline": "realtime" if speed >= 6 else "good", "cpu-used": speed, "row-mt": 1})
        args.update(rate or {"crf": crf, "b:v": 0})
    else:
        args["preset"] = SVT_PRESET[params.preset or "fast"]
        args.update(rate or {"crf": crf})
    return args


def audio_args(params: TranscodeParams, codec: str) -> dict:
    if codec == "copy":
        return {"c:a": "copy"}
    bitrate = params.audio_bitrate or AUDIO_BITRATE[params.quality or "medium"]
    return {"c:a": AUDIO_ENCODERS[codec], "b:a": bitrate}


class Transcode(Operation):
    name = "transcode"
    description = "Convert a video: container, video and audio codecs, size, frame rate, quality, trim."
    params_model = TranscodeParams

    def run(self, ctx, params: TranscodeParams) -> Outcome:
        source = ctx.inputs[0]
        self.require_video(source)
        video_codec, audio_codec = params.codecs
        start = params.start or 0.0
        if source.duration and start >= source.duration:
            raise MediaError("invalid_trim", f"start {start} s is past the input's end ({source.duration:.2f} s)")
        end = min(params.end, source.duration) if (params.end and source.duration) else params.end
        input_options = ctx.input_options()
        if start:
            input_options["ss"] = start
        if end:
            input_options["t"] = end - start
        stream = ffmpeg.input(str(ctx.local_path(source)), **input_options)

        video = stream.video
        if video_codec != "copy":
            scale = scale_filter(params, source.width, source.height)
            if scale:
                video = video.filter("scale", **scale).filter("setsar", "1")
            if params.fps:
                video = video.filter("fps", params.fps)
        streams = [video]
        options = video_args(params, video_codec)
        if source.has_audio and audio_codec != "none":
            streams.append(stream.audio)
            options.update(audio_args(params, audio_codec))
        if params.format in ("mp4", "mov"):
            options["movflags"] = "+faststart"

        out_path = ctx.output_path(f"output.{params.format}")
        args = ffmpeg.output(*streams, str(out_path), **options).get_args()
        duration = (end or source.duration or 0) - start
        ctx.ffmpeg(args, duration=duration or None, stage="transcoding")
        return Outcome(files=[OutputFile(out_path, f"{ctx.stem(source)}.{params.format}")])
