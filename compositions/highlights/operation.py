"""highlights: the best short clips of a long talk, each transcribed, picked, reframed to the speaker's face and
captioned word by word, then rendered in one FFmpeg pass through the composition engine.

The input is decoded once in full (speech, silences, loudness, shot cuts); after that only the chosen clips'
stretches are read again: at 4 frames per second for the face tracker, then for their render."""

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import ffmpeg
import numpy as np
from pydantic import Field, model_validator

from compositions.graph import Graph, Source
from compositions.highlights.captions import STYLES, caption_files
from compositions.highlights.edit import Edit, plan_edit
from compositions.highlights.reframe import CropPath, plan_crop
from compositions.highlights.selection import Highlight, pick_highlights
from compositions.highlights.signals import Signals, measure
from compositions.spec import ASPECTS, CompositionSpec, Output, place_clips
from jobs.ffmpeg.errors import MediaError
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.operations.filters import source_shape
from jobs.transcription.engines import audio_problems, setup_problem, transcribe_audio

FACE_FPS = 4  # frames per second the face tracker sees
FACE_WIDTH = 480  # px: faces in a talk's wide shot are still 40+ px tall at this width
TITLE_SECONDS = 4.0
# Progress: analysis and transcription of the whole input, then the clips share the rest.
ANALYZE, TRANSCRIBE, SELECT = (0.0, 12.0), (12.0, 45.0), 46.0


@contextmanager
def timed(timings: dict[str, float], stage: str):
    """Adds the seconds the block takes to `timings[stage]` (the result's per-stage figures)."""
    began = time.monotonic()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.monotonic() - began


class CaptionOptions(Params):
    style: Literal[STYLES] = Field("bold", description="bold, karaoke, minimal or boxed.")
    burn: bool = Field(True, description="Draw the captions into the video (the SRT/VTT/ASS files come either way).")
    max_words: int = Field(3, ge=1, le=8, description="Words on a caption line at the most.")
    position: Literal["lower", "middle"] = Field("lower", description="Inside the platforms' safe area.")


class HighlightsParams(Params):
    count: int = Field(3, ge=1, le=10, description="How many clips at the most.")
    min_duration: float = Field(15, ge=3, le=300, description="Seconds.")
    max_duration: float = Field(60, ge=5, le=600, description="Seconds.")
    aspect_ratio: Literal["9:16", "1:1", "4:5", "16:9"] = "9:16"
    resolution: Literal["480p", "720p", "1080p"] = Field("1080p", description="The short side: 1080p 9:16 = 1080×1920.")
    quality: Literal["low", "medium", "high"] = "medium"
    language: str = Field("en", pattern=r"^[a-z]{2}$", description="ISO 639-1 code of the speech.")
    engine: Literal["auto", "pocketsphinx", "whisper", "openai"] = Field("auto", description="Speech recogniser.")
    captions: CaptionOptions = Field(default_factory=CaptionOptions)
    title: str | None = Field(None, min_length=1, max_length=120, description="Drawn at the top for 4 s.")
    remove_fillers: bool = Field(False, description="Cut um, uh and similar filler words out of the clips.")
    max_silence: float | None = Field(None, ge=0.2, le=5, description="Shorten longer pauses to this many seconds.")

    @model_validator(mode="after")
    def _durations(self):
        if self.max_duration <= self.min_duration:
            raise FieldError("max_duration", "must be more than min_duration")
        return self


class Highlights(Operation):
    name = "highlights"
    description = "Cut the best short clips of a long talk: transcribed, scored, reframed to the face, captioned."
    params_model = HighlightsParams

    def check_inputs(self, assets: list, params: HighlightsParams) -> dict[str, list[str]]:
        """Also the speech: an input without audio, or a recogniser this server cannot run, is a 400 at submit."""
        errors = audio_problems(assets) | super().check_inputs(assets, params)
        if problem := setup_problem(params.engine, params.language):
            errors[f"params.{problem[0]}"] = [problem[1]]
        return errors

    def run(self, ctx, params: HighlightsParams) -> Outcome:
        source, wav = ctx.inputs[0], ctx.workdir / "speech.wav"
        timings: dict[str, float] = {}
        with timed(timings, "analyzing"):
            signals = measure(ctx, source, wav, span=ANALYZE)
        low, high = TRANSCRIBE
        ctx.set_stage("transcribing", progress=low)
        with timed(timings, "transcribing"):
            transcript = transcribe_audio(
                wav,
                engine=params.engine,
                language=params.language,
                owner=ctx.job.owner,
                on_progress=lambda done: ctx.set_stage("transcribing", progress=round(low + (high - low) * done, 1)),
            )
        ctx.set_stage("selecting", progress=high)
        with timed(timings, "selecting"):
            picked = pick_highlights(
                transcript, signals, count=params.count, min_duration=params.min_duration,
                max_duration=params.max_duration,
            )  # fmt: skip
        if not picked:
            raise MediaError("no_highlights", no_highlights_reason(transcript, signals, params))

        files: list[OutputFile] = []
        clips = []
        share = (99.0 - SELECT) / len(picked)
        for number, highlight in enumerate(picked, 1):
            first = SELECT + share * (number - 1)
            with timed(timings, "reframing"):
                path = self.reframe(ctx, source, highlight, signals, params, span=(first, first + share * 0.2))
            with timed(timings, "rendering"):
                clip, written = self.clip(ctx, source, transcript, highlight, path, params, number,
                                          span=(first + share * 0.2, first + share))  # fmt: skip
            files += written
            clips.append(clip)
        result = {
            "engine": transcript.engine,
            "language": transcript.language,
            "duration": source.duration,
            "words": len(transcript.words),
            "clips": clips,
            "timings": {stage: round(seconds, 2) for stage, seconds in timings.items()},
        }
        return Outcome(files=files, result=result)

    def clip(self, ctx, source, transcript, highlight: Highlight, path: CropPath, params, number: int, span):
        """One clip: its edit, its caption files and its render; (its result entry, the files it wrote)."""
        output = Output(resolution=params.resolution, aspect_ratio=params.aspect_ratio, quality=params.quality)
        edit = plan_edit(
            transcript.words,
            highlight.start,
            highlight.end,
            remove_fillers=params.remove_fillers,
            max_silence=params.max_silence,
        )
        captions = self.write_captions(ctx, edit, output, params, number)
        spec = composition_spec(source, highlight, edit, path, output, params, captions["ass"].name, number)
        video = ctx.output_path(f"clip-{number}.mp4")
        total = self.render(ctx, source, spec, video, captions["ass"] if params.captions.burn else None, span)
        entry = {
            "index": number,
            "start": round(highlight.start, 3),
            "end": round(highlight.end, 3),
            "duration": round(total, 3),
            "score": highlight.score,
            "reason": highlight.reason,
            "text": highlight.text,
            "features": highlight.features,
            "topic": highlight.topic,
            "layout": path.layout,
            "video": video.name,
            "captions": {kind: file.name for kind, file in captions.items()},
            "composition": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        written = [OutputFile(video, video.name), *(OutputFile(file, file.name) for file in captions.values())]
        return entry, written

    @staticmethod
    def reframe(ctx, source, highlight: Highlight, signals: Signals, params: HighlightsParams, span) -> CropPath:
        """Read the clip's stretch at FACE_FPS in grey at FACE_WIDTH and plan the crop that follows the face."""
        shape = source_shape(source)
        width = min(FACE_WIDTH, shape.width) // 2 * 2
        height = max(2, round(width * shape.height / shape.width / 2) * 2)
        length = highlight.end - highlight.start
        raw = ctx.workdir / "faces.gray"
        stream = ffmpeg.input(str(ctx.local_path(source)), ss=round(highlight.start, 6), t=round(length, 6),
                              **ctx.input_options())  # fmt: skip
        picture = stream.video.filter("fps", FACE_FPS).filter("scale", width, height)
        args = picture.output(str(raw), format="rawvideo", pix_fmt="gray").get_args()
        ctx.ffmpeg(args, duration=None, stage="reframing", span=span)
        frames = np.fromfile(raw, dtype=np.uint8)
        frames = frames[: frames.size // (width * height) * width * height].reshape(-1, height, width)
        cuts = [cut - highlight.start for cut in signals.cuts if highlight.start < cut < highlight.end]
        timed = ((index / FACE_FPS, frame) for index, frame in enumerate(frames))
        return plan_crop(timed, source_size=(shape.width, shape.height), aspect=ASPECTS[params.aspect_ratio], cuts=cuts)

    @staticmethod
    def write_captions(ctx, edit: Edit, output: Output, params: HighlightsParams, number: int) -> dict[str, Path]:
        """The clip's captions as SRT, WebVTT and ASS (what is burned) files, by format."""
        files = caption_files(
            edit.words,
            style=params.captions.style,
            size=output.size,
            max_words=params.captions.max_words,
            position=params.captions.position,
        )
        written = {}
        for kind, text in (("srt", files.srt), ("vtt", files.vtt), ("ass", files.ass)):
            written[kind] = ctx.output_path(f"clip-{number}.{kind}")
            written[kind].write_text(text, encoding="utf-8")
        return written

    @staticmethod
    def render(ctx, source, spec: CompositionSpec, out: Path, captions: Path | None, span) -> float:
        """The clip's composition in one FFmpeg pass; its duration."""
        sources = {source.id: Source(ctx.local_path(source), source.duration, source.has_audio, "video")}
        keys = [source.id] * len(spec.clips)
        placed = place_clips(spec, dict.fromkeys(range(len(keys)), source.duration))
        graph = Graph(spec, sources, ctx.workdir)
        args, total = graph.command(placed, keys, out, captions)
        ctx.ffmpeg(args, duration=total, stage="rendering", span=span)
        return total

    def link_result(self, result: dict | None, stored: dict[str, str]) -> dict | None:
        """Clips name their files until they are stored; then their asset ids."""
        for clip in (result or {}).get("clips", []):
            clip["video"] = stored[clip["video"]]
            clip["captions"] = {kind: stored[name] for kind, name in clip["captions"].items()}
            if "captions" in clip["composition"]:
                clip["composition"]["captions"]["asset"] = stored[clip["composition"]["captions"]["asset"]]
        return result

    def present_result(self, result: dict, outputs) -> dict:
        """Each clip's video and caption files as assets (the contract's clip shape)."""
        assets = outputs()
        clips = [
            {
                **clip,
                "video": assets.get(clip["video"]),
                "captions": {kind: assets.get(asset_id) for kind, asset_id in clip["captions"].items()},
            }
            for clip in result.get("clips", [])
        ]
        return {**result, "clips": clips}


def span_points(path: CropPath, offset: float, length: float) -> list[tuple[float, float, float]]:
    """The crop path over [offset, offset + length] of the clip, timed from that span's start."""
    inside = [(t - offset, x, y) for t, x, y in path.points if offset < t < offset + length]
    start, end = path.at(offset), path.at(offset + length)
    return [(0.0, *start), *inside, (round(length, 6), *end)]


def composition_spec(
    source, highlight: Highlight, edit: Edit, path: CropPath, output: Output, params, captions: str, number: int
) -> CompositionSpec:
    """The clip as a composition: its kept spans of the source in order, reframed, captioned, titled. It is also
    what "open as composition" starts from."""
    clips = []
    for start, end in edit.spans:
        offset = start - highlight.start
        frame = {"width": path.width, "height": path.height, "points": span_points(path, offset, end - start)}
        clips.append({"asset": source.id, "in": round(start, 6), "duration": round(end - start, 6), "fit": "cover",
                      "reframe": frame})  # fmt: skip
    width, height = output.size
    overlays = []
    if params.title:
        overlays.append(
            {
                "type": "text",
                "text": params.title,
                "position": "top",
                "start_time": 0,
                "end_time": min(TITLE_SECONDS, edit.duration),
                "font_size": max(16, round(min(width, height) * 0.06)),
                "background": {"color": "#000000", "opacity": 0.6, "padding": 16},
                "fade_out": 0.3,
            }
        )
    body = {
        "title": f"Highlight {number}",
        "clips": clips,
        "overlays": overlays,
        "output": {
            **output.model_dump(mode="json", exclude_none=True),
            "fps": min(60.0, source.fps or 30.0),
        },
    }
    if params.captions.burn:
        body["captions"] = {"asset": captions}
    return CompositionSpec.model_validate(body)


def no_highlights_reason(transcript, signals: Signals, params: HighlightsParams) -> str:
    if not transcript.words:
        return "No speech was recognised in the input, so there is nothing to pick clips from."
    if signals.duration < params.min_duration:
        return f"The input lasts {signals.duration:.1f} s, less than min_duration ({params.min_duration:g} s)."
    return (
        f"No stretch of complete sentences lasts between {params.min_duration:g} and {params.max_duration:g} s; "
        "widen the range."
    )
