"""The highlight pipeline's one decode of the whole input: the speech as a 16 kHz mono WAV for the recogniser,
and, from filters in the same FFmpeg run, silences, loudness over time and shot cuts."""

import re
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg

from jobs.operations.analyze import SCENE_WIDTH, filter_messages, number, parse_scenes, parse_silences

SPEECH_RATE = 16000
# Pauses between sentences are short: a third of a second below -35 dBFS counts (analyze's default is 0.5 s
# below -50 dBFS, for real silence).
SILENCE_DB = -35
SILENCE_SECONDS = 0.3
SCENE_THRESHOLD = 10  # scdet's 0–100 scale (its default)
MOMENTARY = re.compile(r"\bt:\s*(?P<time>\S+)\s+TARGET:.*?\bM:\s*(?P<momentary>\S+)")


@dataclass
class Signals:
    duration: float
    silences: list[tuple[float, float]] = field(default_factory=list)  # (start, end) seconds
    loudness: list[tuple[float, float]] = field(default_factory=list)  # (time, momentary LUFS), every 0.1 s
    cuts: list[float] = field(default_factory=list)  # shot cuts, seconds


def parse_momentary(lines: list[str]) -> list[tuple[float, float]]:
    """ebur128's per-100 ms log lines as (time, momentary loudness); silence logs as -120.7 and stays in."""
    series = []
    for message in filter_messages(lines, "ebur128"):
        match = MOMENTARY.search(message)
        if match:
            time, momentary = number(match["time"]), number(match["momentary"])
            if time is not None and momentary is not None:
                series.append((time, momentary))
    return series


def measure(ctx, source, wav: Path, *, span: tuple[float, float]) -> Signals:
    """Decode `source` once: write its speech to `wav` and read the signals off the same run's filters."""
    stream = ffmpeg.input(str(ctx.local_path(source)), **ctx.input_options())
    audio = stream.audio.filter("aformat", sample_rates=SPEECH_RATE, channel_layouts="mono", sample_fmts="s16")
    split = audio.filter_multi_output("asplit", 2)
    speech, measured = split[0], split[1]
    measured = measured.filter("silencedetect", n=f"{SILENCE_DB}dB", d=SILENCE_SECONDS).filter("ebur128")
    analysis = [measured]
    if source.has_video:
        # fast_bilinear: the same cuts and scores as bicubic at 160 px, and the analysis pass of a 1080p talk
        # 1.46x faster (bench/highlights.py's talk: 40.8 → 27.8 s, a bare decode 26.7 s)
        small = stream.video.filter("scale", SCENE_WIDTH, -2, flags="fast_bilinear")
        analysis.append(small.filter("scdet", threshold=SCENE_THRESHOLD))
    outputs = ffmpeg.merge_outputs(
        ffmpeg.output(speech, str(wav), **{"c:a": "pcm_s16le"}),
        ffmpeg.output(*analysis, "-", format="null"),
    )
    lines: list[str] = []
    ctx.ffmpeg(outputs.get_args(), duration=source.duration, stage="analyzing", span=span, capture=lines)
    duration = source.duration or 0.0
    return Signals(
        duration=duration,
        silences=[(s["start"], s["end"]) for s in parse_silences(lines, duration)],
        loudness=parse_momentary(lines),
        cuts=[scene["time"] for scene in parse_scenes(lines)] if source.has_video else [],
    )
