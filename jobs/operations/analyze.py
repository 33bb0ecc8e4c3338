"""analyze: probe facts plus measurements (loudness, scene cuts, black and silent stretches, interlacing, crop)
from one FFmpeg decode whose filters report on stderr."""

import math
import re
from collections import Counter
from fractions import Fraction

import ffmpeg
from pydantic import Field

from jobs.operations.base import Operation, Outcome, Params

# Scene detection runs on a small copy of the picture: cuts show as well at 160 wide, at a fraction of the cost.
SCENE_WIDTH = 160
# cropdetect logs a line per frame it looks at; it looks at about this many frames, evenly spread.
CROP_SAMPLES = 1000

# "[Parsed_cropdetect_1 @ 0x55d…] message" or "[blackdetect @ 0x55d…] message": the filter and its message.
PREFIX = re.compile(r"^\[(?:Parsed_)?(?P<filter>[a-z0-9]+?)(?:_\d+)? @ 0x[0-9a-f]+\]\s?(?P<message>.*)$")
SCENE = re.compile(r"lavfi\.scd\.score:\s*(?P<score>\S+?),\s*lavfi\.scd\.time:\s*(?P<time>\S+)")
BLACK = re.compile(r"black_start:\s*(?P<start>\S+)\s+black_end:\s*(?P<end>\S+)\s+black_duration:\s*(?P<duration>\S+)")
SILENCE_START = re.compile(r"silence_start:\s*(?P<start>\S+)")
SILENCE_END = re.compile(r"silence_end:\s*(?P<end>\S+)\s*\|\s*silence_duration:\s*(?P<duration>\S+)")
IDET = re.compile(
    r"Multi frame detection:\s*TFF:\s*(?P<tff>\d+)\s+BFF:\s*(?P<bff>\d+)\s+"
    r"Progressive:\s*(?P<progressive>\d+)\s+Undetermined:\s*(?P<undetermined>\d+)"
)
CROP = re.compile(r"crop=(?P<width>-?\d+):(?P<height>-?\d+):(?P<x>-?\d+):(?P<y>-?\d+)")
# The lines of ebur128's summary after its "Summary:" line (they carry no filter prefix).
LOUDNESS = re.compile(r"^\s*(?P<name>I|LRA|Peak):\s*(?P<value>\S+)\s*(?:LUFS|LU|dBFS)\s*$")


class AnalyzeParams(Params):
    scenes: bool = Field(True, description="Detect scene cuts (scdet).")
    black: bool = Field(True, description="Detect black stretches (blackdetect).")
    silence: bool = Field(True, description="Detect silent stretches (silencedetect).")
    loudness: bool = Field(True, description="Measure EBU R128 loudness and true peak (ebur128).")
    interlacing: bool = Field(True, description="Detect interlacing (idet).")
    crop: bool = Field(True, description="Detect black borders (cropdetect).")
    # scdet's own default (10 on its 0–100 scale). Its scores run lower than select's `scene`: cuts from testsrc2
    # to red, SMPTE bars or white score 0.22, 0.28 and 0.42 (select: 0.73 for the bars), its motion under 0.01.
    scene_threshold: float = Field(0.1, gt=0, lt=1, description="scdet score (0–1) a cut must reach.")
    black_min_duration: float = Field(0.5, gt=0, le=3600, description="Seconds of black that count as a segment.")
    silence_noise_db: float = Field(-50.0, ge=-120, le=0, description="Level in dBFS below which audio is silence.")
    silence_min_duration: float = Field(0.5, gt=0, le=3600, description="Seconds of silence that count.")


def number(text: str | None) -> float | None:
    """A finite float from FFmpeg's text, or None (for `-inf`, `nan`, garbage)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def rate(text: str | None) -> float | None:
    try:
        value = Fraction(text or "")
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(value), 3) if value else None


def integer(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def stream_summary(stream: dict) -> dict:
    kind = stream.get("codec_type")
    summary = {
        "index": stream.get("index"),
        "type": kind,
        "codec": stream.get("codec_name"),
        "profile": stream.get("profile"),
        "bit_rate": integer(stream.get("bit_rate")),
        "language": (stream.get("tags") or {}).get("language"),
    }
    if kind == "video":
        summary |= {
            "width": stream.get("width"),
            "height": stream.get("height"),
            "fps": rate(stream.get("avg_frame_rate")) or rate(stream.get("r_frame_rate")),
            "pix_fmt": stream.get("pix_fmt"),
        }
    elif kind == "audio":
        summary |= {"sample_rate": integer(stream.get("sample_rate")), "channels": stream.get("channels")}
    return summary


def probe_summary(probe: dict) -> dict:
    fmt = probe.get("format") or {}
    return {
        "format": {
            "name": fmt.get("format_name"),
            "bit_rate": integer(fmt.get("bit_rate")),
            "size": integer(fmt.get("size")),
        },
        "streams": [stream_summary(stream) for stream in probe.get("streams", [])],
    }


# --- the filter graph ------------------------------------------------------------------------------------


def video_chain(stream, params: AnalyzeParams, crop_step: int):
    """idet, cropdetect and blackdetect see the full picture; scdet the downscaled one. None: nothing to do."""
    if not (params.interlacing or params.crop or params.black or params.scenes):
        return None
    video = stream.video
    if params.interlacing:
        video = video.filter("idet")
    if params.crop:
        # reset=1: every frame gets its own suggestion (the default accumulates over the whole input).
        video = video.filter("cropdetect", round=2, reset=1, enable=f"not(mod(n,{crop_step}))")
    if params.black:
        video = video.filter("blackdetect", d=params.black_min_duration)
    if params.scenes:
        video = video.filter("scale", SCENE_WIDTH, -2).filter("scdet", threshold=params.scene_threshold * 100)
    return video


def audio_chain(stream, params: AnalyzeParams):
    if not (params.silence or params.loudness):
        return None
    audio = stream.audio
    if params.silence:
        audio = audio.filter("silencedetect", n=f"{params.silence_noise_db}dB", d=params.silence_min_duration)
    if params.loudness:
        # framelog=verbose keeps the per-100 ms readings out of the info-level log; the summary stays in it.
        audio = audio.filter("ebur128", peak="true", framelog="verbose")
    return audio


# --- reading the log -------------------------------------------------------------------------------------


def filter_messages(lines: list[str], name: str) -> list[str]:
    """The messages the filter `name` logged, in order (only lines carrying its `[name @ 0x…]` prefix)."""
    messages = []
    for line in lines:
        match = PREFIX.match(line)
        if match and match["filter"] == name:
            messages.append(match["message"])
    return messages


def parse_scenes(lines: list[str]) -> list[dict]:
    scenes = []
    for message in filter_messages(lines, "scdet"):
        match = SCENE.search(message)
        score, time = (number(match["score"]), number(match["time"])) if match else (None, None)
        if score is not None and time is not None:
            scenes.append({"time": round(time, 3), "score": round(score / 100, 4)})
    return scenes


def parse_black(lines: list[str]) -> list[dict]:
    segments = []
    for message in filter_messages(lines, "blackdetect"):
        match = BLACK.search(message)
        values = [number(match[key]) for key in ("start", "end", "duration")] if match else [None]
        if None not in values:
            segments.append(dict(zip(("start", "end", "duration"), (round(v, 3) for v in values), strict=True)))
    return segments


def parse_silences(lines: list[str], duration: float | None) -> list[dict]:
    """silencedetect logs a start, then an end with the duration; a silence still open at the end runs to it."""
    silences, start = [], None
    for message in filter_messages(lines, "silencedetect"):
        if match := SILENCE_START.search(message):
            start = number(match["start"])
        elif (match := SILENCE_END.search(message)) and start is not None:
            end = number(match["end"])
            if end is not None:
                silences.append({"start": round(start, 3), "end": round(end, 3), "duration": round(end - start, 3)})
            start = None
    if start is not None and duration:
        silences.append({"start": round(start, 3), "end": round(duration, 3), "duration": round(duration - start, 3)})
    return silences


def parse_loudness(lines: list[str]) -> dict | None:
    """The figures of ebur128's last summary (FFmpeg may log an empty one first, from a graph it reconfigured)."""
    starts = [i for i, line in enumerate(lines) if (m := PREFIX.match(line)) and m["filter"] == "ebur128"]
    starts = [i for i in starts if lines[i].rstrip().endswith("Summary:")]
    if not starts:
        return None
    values: dict[str, float | None] = {}
    for line in lines[starts[-1] + 1 :]:
        if match := LOUDNESS.match(line):
            values.setdefault(match["name"], number(match["value"]))
    return {"integrated": values.get("I"), "range": values.get("LRA"), "true_peak": values.get("Peak")}


def parse_interlacing(lines: list[str]) -> dict | None:
    """idet's multi-frame counts (the last report: an earlier one may come from a discarded graph) and a verdict:
    interlaced when frames judged interlaced outnumber progressive ones."""
    counts = None
    for message in filter_messages(lines, "idet"):
        if match := IDET.search(message):
            counts = {key: int(value) for key, value in match.groupdict().items()}
    if counts is None:
        return None
    interlaced = counts["tff"] + counts["bff"]
    if interlaced + counts["progressive"] == 0:
        verdict = "undetermined"
    elif interlaced > counts["progressive"]:
        verdict = "tff" if counts["tff"] >= counts["bff"] else "bff"
    else:
        verdict = "progressive"
    return {**counts, "verdict": verdict}


def parse_crop(lines: list[str], width: int | None, height: int | None) -> dict | None:
    """cropdetect's most frequent suggestion; black frames give negative sizes and are left out."""
    suggestions: Counter[tuple[int, int, int, int]] = Counter()
    for message in filter_messages(lines, "cropdetect"):
        if match := CROP.search(message):
            w, h, x, y = (int(match[key]) for key in ("width", "height", "x", "y"))
            if w > 0 and h > 0:
                suggestions[(w, h, x, y)] += 1
    if not suggestions:
        return None
    (w, h, x, y), _ = suggestions.most_common(1)[0]
    return {"width": w, "height": h, "x": x, "y": y, "differs": (w, h) != (width, height)}


class Analyze(Operation):
    name = "analyze"
    description = "Measure a video or audio file: loudness, scene cuts, black and silence, interlacing, crop."
    params_model = AnalyzeParams
    input_kinds = ("video", "audio")

    def run(self, ctx, params: AnalyzeParams) -> Outcome:
        source = ctx.inputs[0]
        result = {"duration": source.duration, **probe_summary(source.probe or {})}
        result |= dict.fromkeys(("loudness", "scenes", "black", "silences", "interlacing", "crop"))

        stream = ffmpeg.input(str(ctx.local_path(source)), **ctx.input_options())
        frames = (source.fps or 25) * (source.duration or 0)
        video = video_chain(stream, params, max(1, round(frames / CROP_SAMPLES))) if source.has_video else None
        audio = audio_chain(stream, params) if source.has_audio else None
        streams = [chain for chain in (video, audio) if chain is not None]
        if not streams:
            return Outcome(result=result)

        lines: list[str] = []
        args = ffmpeg.output(*streams, "-", format="null").get_args()
        ctx.ffmpeg(args, duration=source.duration, stage="analyzing", capture=lines)
        if video is not None:
            result |= {
                "scenes": parse_scenes(lines) if params.scenes else None,
                "black": parse_black(lines) if params.black else None,
                "interlacing": parse_interlacing(lines) if params.interlacing else None,
                "crop": parse_crop(lines, source.width, source.height) if params.crop else None,
            }
        if audio is not None:
            result |= {
                "silences": parse_silences(lines, source.duration) if params.silence else None,
                "loudness": parse_loudness(lines) if params.loudness else None,
            }
        return Outcome(result=result)
