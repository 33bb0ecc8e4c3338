"""audio: extract or convert the audio of a video or audio file; trim, gain, fades, EBU R128 loudness
normalisation (two-pass loudnorm) and an optional waveform picture."""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.ffmpeg.errors import MediaError
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.transcode import BITRATE_PATTERN

AudioFormat = Literal["mp3", "aac", "opus", "wav", "flac"]
SampleRate = Literal[8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000]

EXTENSIONS = {"mp3": "mp3", "aac": "m4a", "opus": "opus", "wav": "wav", "flac": "flac"}
ENCODERS = {"mp3": "libmp3lame", "aac": "aac", "opus": "libopus", "wav": "pcm_s16le", "flac": "flac"}
DEFAULT_BITRATE = {"mp3": "192k", "aac": "192k", "opus": "128k"}
# Bits per second each lossy encoder accepts.
BITRATE_RANGE = {"mp3": (8_000, 320_000), "aac": (16_000, 512_000), "opus": (6_000, 510_000)}
# The sample rates each encoder can write; None: any (wav, flac). Opus always decodes at 48 kHz.
RATES: dict[str, frozenset[int] | None] = {
    "mp3": frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}),
    "aac": frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000}),
    "opus": frozenset({48000}),
    "wav": None,
    "flac": None,
}
DEFAULT_TRUE_PEAK = -1.5
DEFAULT_LRA = 11.0
WAVEFORM_SIZE = (1024, 256)
WAVEFORM_COLOR = "#3b82f6"
# The waveform branch is decimated first: showwavespic keeps every sample until the end of the input.
WAVEFORM_SAMPLE_RATE = 8000
SPANS_NORMALISED = {"measure": (0.0, 45.0), "encode": (45.0, 95.0), "verify": (95.0, 99.0)}


def bits_per_second(rate: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)([kKmM]?)", rate).groups()
    return float(value) * {"": 1, "k": 1e3, "m": 1e6}[unit.lower()]


class AudioParams(Params):
    format: AudioFormat = Field("mp3", description="mp3, aac (in .m4a), opus (in .opus Ogg), wav (16-bit PCM), flac.")
    sample_rate: SampleRate | None = Field(None, description="Hz; default: the source's (if the format allows it).")
    channels: Literal[1, 2] | None = Field(None, description="Default: the source's, more than 2 mixed to stereo.")
    bitrate: str | None = Field(None, pattern=BITRATE_PATTERN, description="Lossy formats only, e.g. 128k.")
    start: float | None = Field(None, ge=0, description="Seconds into the input where the output starts.")
    end: float | None = Field(None, gt=0, description="Seconds into the input where the output ends.")
    volume: float | None = Field(None, ge=-60, le=20, description="Gain in dB.")
    fade_in: float | None = Field(None, gt=0, le=3600, description="Seconds of fade-in at the start.")
    fade_out: float | None = Field(None, gt=0, le=3600, description="Seconds of fade-out at the end.")
    target_lufs: float | None = Field(None, ge=-70, le=-5, description="EBU R128 integrated loudness target.")
    true_peak: float | None = Field(None, ge=-9, le=0, description="dBTP ceiling with target_lufs; default -1.5.")
    lra: float | None = Field(None, ge=1, le=50, description="Loudness range target with target_lufs; default 11.")
    waveform: bool = Field(False, description="Also make a PNG picture of the waveform.")
    waveform_width: int | None = Field(None, ge=64, le=4096, description="Pixels; default 1024.")
    waveform_height: int | None = Field(None, ge=32, le=2048, description="Pixels; default 256.")
    waveform_color: str | None = Field(None, pattern=r"^#[0-9A-Fa-f]{6}$", description="#RRGGBB; default #3b82f6.")

    @model_validator(mode="after")
    def _consistent(self):
        if self.bitrate is not None:
            if self.format not in BITRATE_RANGE:
                raise FieldError("bitrate", f"{self.format} is lossless: it takes no bitrate")
            low, high = BITRATE_RANGE[self.format]
            if not low <= bits_per_second(self.bitrate) <= high:
                raise FieldError("bitrate", f"bitrate for {self.format} is {low // 1000}k–{high // 1000}k")
        rates = RATES[self.format]
        if self.sample_rate is not None and rates is not None and self.sample_rate not in rates:
            raise FieldError("sample_rate", f"{self.format} takes sample rates {sorted(rates)}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise FieldError("end", "end must be after start")
        if self.target_lufs is None:
            for name in ("true_peak", "lra"):
                if getattr(self, name) is not None:
                    raise FieldError(name, f"{name} is a loudness normalisation setting: give target_lufs too")
        elif self.volume is not None:
            raise FieldError("volume", "give volume or target_lufs, not both (normalisation sets the level)")
        if not self.waveform:
            for name in ("waveform_width", "waveform_height", "waveform_color"):
                if getattr(self, name) is not None:
                    raise FieldError(name, f"{name} needs waveform: true")
        return self


def audio_stream_info(asset) -> tuple[int | None, int | None]:
    """The sample rate and channel count of the asset's first audio stream, as probed."""
    stream = next((s for s in asset.probe.get("streams", []) if s.get("codec_type") == "audio"), {})
    try:
        rate = int(stream.get("sample_rate") or 0) or None
    except ValueError:
        rate = None
    return rate, stream.get("channels") or None


def output_rate(params: AudioParams, source_rate: int | None) -> int:
    """The asked rate, else the source's when the format can write it, else the nearest rate above it."""
    if params.sample_rate:
        return params.sample_rate
    rates = RATES[params.format]
    wanted = source_rate or 48000
    if rates is None or wanted in rates:
        return wanted
    return min((rate for rate in rates if rate >= wanted), default=max(rates))


def finite(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def loudnorm_report(lines: list[str]) -> dict[str, float | str]:
    """The JSON block loudnorm prints at the end of a run (numbers as strings, -inf for silence)."""
    blocks = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", "\n".join(lines))
    if not blocks:
        raise MediaError("loudness_failed", "FFmpeg did not report the loudness of the input.")
    report = json.loads(blocks[-1])
    return {key: (value if key == "normalization_type" else float(value)) for key, value in report.items()}


def ebur128_summary(lines: list[str]) -> dict[str, float | None]:
    """Integrated loudness, its gate threshold, loudness range and true peak from ebur128's summary."""
    summary = lines[max(i for i, line in enumerate(lines) if "Summary:" in line) :] if lines else []
    found: dict[str, float | None] = {}
    for line in summary:
        match = re.match(r"\s*(I|Threshold|LRA|Peak):\s+(-?inf|-?[0-9.]+)", line)
        if match and match[1] not in found:
            found[match[1]] = finite(float(match[2]))
    if "I" not in found:
        raise MediaError("loudness_failed", "FFmpeg did not report the loudness of the output.")
    return {
        "output_i": found["I"],
        "output_tp": found.get("Peak"),
        "output_lra": found.get("LRA"),
        "output_thresh": found.get("Threshold"),
    }


def loudnorm_args(params: AudioParams) -> dict:
    return {
        "I": params.target_lufs,
        "TP": params.true_peak if params.true_peak is not None else DEFAULT_TRUE_PEAK,
        "LRA": params.lra if params.lra is not None else DEFAULT_LRA,
    }


def measured_args(report: dict) -> dict:
    """Pass-1 figures as loudnorm's measured_* options, clamped to the ranges loudnorm accepts."""

    def clamp(value: float, low: float, high: float) -> float:
        return min(max(value, low), high)

    return {
        "measured_I": clamp(report["input_i"], -99, 0),
        "measured_TP": clamp(report["input_tp"], -99, 99),
        "measured_LRA": clamp(report["input_lra"], 0, 99),
        "measured_thresh": clamp(report["input_thresh"], -99, 0),
        "offset": clamp(report["target_offset"], -99, 99),
        "linear": "true",
    }


def encoder_args(params: AudioParams) -> dict:
    args = {"c:a": ENCODERS[params.format]}
    if params.format in DEFAULT_BITRATE:
        args["b:a"] = params.bitrate or DEFAULT_BITRATE[params.format]
    if params.format == "aac":
        args["movflags"] = "+faststart"
    return args


@dataclass
class Plan:
    """What the input's audio becomes: where it is cut, how long it lasts, its sample rate and layout."""

    input_options: dict
    duration: float
    rate: int
    channels: int

    @property
    def layout(self) -> str:
        return "mono" if self.channels == 1 else "stereo"


def plan(ctx, source, params: AudioParams) -> Plan:
    start = params.start or 0.0
    if source.duration and start >= source.duration:
        raise MediaError("invalid_trim", f"start {start} s is past the input's end ({source.duration:.2f} s)")
    end = min(params.end, source.duration) if (params.end and source.duration) else params.end
    duration = (end or source.duration or 0) - start
    if duration and (params.fade_in or 0) + (params.fade_out or 0) > duration:
        raise MediaError("invalid_fade", f"fade_in and fade_out are longer than the output ({duration:.2f} s)")
    input_options = ctx.input_options()
    if start:
        input_options["ss"] = start
    if end:
        input_options["t"] = end - start
    source_rate, source_channels = audio_stream_info(source)
    channels = params.channels or min(source_channels or 2, 2)
    return Plan(input_options, duration, output_rate(params, source_rate), channels)


def shaped(ctx, source, params: AudioParams, plan: Plan):
    """The input's audio cut, in the output's channel layout, with gain and fades (what loudnorm measures)."""
    audio = ffmpeg.input(str(ctx.local_path(source)), **plan.input_options).audio.filter("asetpts", "PTS-STARTPTS")
    audio = audio.filter("aformat", channel_layouts=plan.layout)
    if params.volume is not None:
        audio = audio.filter("volume", f"{params.volume}dB")
    if params.fade_in:
        audio = audio.filter("afade", t="in", st=0, d=params.fade_in)
    if params.fade_out:
        audio = audio.filter("afade", t="out", st=max(plan.duration - params.fade_out, 0), d=params.fade_out)
    return audio


def waveform(audio, params: AudioParams):
    width, height = WAVEFORM_SIZE
    color = (params.waveform_color or WAVEFORM_COLOR).replace("#", "0x")
    audio = audio.filter("aformat", sample_rates=WAVEFORM_SAMPLE_RATE, channel_layouts="mono")
    size = f"{params.waveform_width or width}x{params.waveform_height or height}"
    return audio.filter("showwavespic", s=size, colors=color, filter="peak", draw="full")


def output_args(audio, params: AudioParams, audio_path: Path, waveform_path: Path | None) -> list[str]:
    """The encode, and with a waveform path also the picture, from one decode of `audio`."""
    if waveform_path is None:
        return ffmpeg.output(audio, str(audio_path), **encoder_args(params)).get_args()
    split = audio.filter_multi_output("asplit")
    outputs = [
        ffmpeg.output(split[0], str(audio_path), **encoder_args(params)),
        ffmpeg.output(waveform(split[1], params), str(waveform_path), **{"frames:v": 1, "update": 1}),
    ]
    return ffmpeg.merge_outputs(*outputs).get_args()


class Audio(Operation):
    name = "audio"
    description = "Extract or convert audio: format, sample rate, channels, trim, gain, fades, loudness, waveform."
    params_model = AudioParams
    input_kinds = ("video", "audio")

    def check_inputs(self, assets: list, params: Params) -> dict[str, list[str]]:
        errors = super().check_inputs(assets, params)
        for index, asset in enumerate(assets):
            if f"inputs.{index}" not in errors and not asset.has_audio:
                errors[f"inputs.{index}"] = [f"{asset.id}: input has no audio stream."]
        return errors

    def run(self, ctx, params: AudioParams) -> Outcome:
        source = ctx.inputs[0]
        if not source.has_audio:
            raise MediaError("no_audio_stream", "input has no audio stream")
        todo = plan(ctx, source, params)
        normalise = params.target_lufs is not None
        spans = SPANS_NORMALISED if normalise else {"encode": (0.0, 99.0)}

        audio, measured, lines = shaped(ctx, source, params, todo), None, None
        if normalise:
            measured = self.measure(ctx, shaped(ctx, source, params, todo), params, todo.duration, spans["measure"])
            lines = []
            audio = audio.filter("loudnorm", **loudnorm_args(params), **measured_args(measured), print_format="json")
        # loudnorm works (and outputs) at 192 kHz; a plain `aresample` here can fail to renegotiate the layout.
        audio = audio.filter("aformat", sample_rates=todo.rate, channel_layouts=todo.layout)

        ext, stem = EXTENSIONS[params.format], ctx.stem(source)
        files = [OutputFile(ctx.output_path(f"output.{ext}"), f"{stem}.{ext}")]
        if params.waveform:
            files.append(OutputFile(ctx.output_path("waveform.png"), f"{stem}-waveform.png"))
        args = output_args(audio, params, files[0].path, files[1].path if params.waveform else None)
        ctx.ffmpeg(args, duration=todo.duration or None, stage="encoding", span=spans["encode"], capture=lines)

        result: dict = {"format": params.format, "sample_rate": todo.rate, "channels": todo.channels}
        if normalise:
            applied = loudnorm_report(lines)
            result["loudness"] = self.loudness(ctx, files[0].path, measured, applied, todo.duration, spans["verify"])
        return Outcome(files=files, result=result)

    @staticmethod
    def measure(ctx, audio, params: AudioParams, duration: float, span: tuple[float, float]) -> dict:
        """Loudnorm pass 1: the input's loudness, as loudnorm needs it for a linear pass 2."""
        lines: list[str] = []
        audio = audio.filter("loudnorm", **loudnorm_args(params), print_format="json")
        args = ffmpeg.output(audio, "-", f="null").get_args()
        ctx.ffmpeg(args, duration=duration or None, stage="measuring", span=span, capture=lines)
        report = loudnorm_report(lines)
        if not math.isfinite(report["input_i"]):
            raise MediaError("silent_audio", "The audio is silent: there is no loudness to normalise.")
        return report

    @staticmethod
    def loudness(ctx, out_path: Path, measured: dict, applied: dict, duration: float, span) -> dict:
        """Input figures from pass 1; output figures measured on the written file (after the encoder)."""
        lines: list[str] = []
        audio = ffmpeg.input(str(out_path), **ctx.input_options()).audio
        audio = audio.filter("ebur128", peak="true", framelog="verbose")
        args = ffmpeg.output(audio, "-", f="null").get_args()
        ctx.ffmpeg(args, duration=duration or None, stage="verifying", span=span, capture=lines)
        return {
            "input_i": finite(measured["input_i"]),
            "input_tp": finite(measured["input_tp"]),
            "input_lra": finite(measured["input_lra"]),
            "input_thresh": finite(measured["input_thresh"]),
            **ebur128_summary(lines),
            "normalization": applied["normalization_type"],
        }
