"""transcribe: speech to timed words (see jobs.transcription), delivered as the job's result plus SRT and WebVTT
files built from them."""

import time
from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params
from jobs.transcription import whisper
from jobs.transcription.cues import cues, write_subtitles
from jobs.transcription.engines import (
    audio_problems,
    language_problem,
    resolve,
    setup_problem,
    transcribe_audio,
    transcribe_with_subtitles,
)

EXTRACT_SPAN = (0.0, 5.0)  # progress while FFmpeg extracts the audio (fast: it only decodes audio)
DECODE_END = 99.0


class TranscribeParams(Params):
    language: str = Field("en", pattern=r"^[a-z]{2,3}$", description="ISO 639-1 code of the speech, e.g. en.")
    engine: Literal["auto", "pocketsphinx", "whisper", "openai"] = Field(
        "auto",
        description="auto: the subtitles when given, else whisper when the server has a model, else pocketsphinx. "
        "openai uses your OpenAI provider key.",
    )
    subtitles: str | None = Field(
        None, max_length=32, description="A subtitle asset (SRT, WebVTT) whose words are timed against the audio."
    )
    max_words_per_cue: int = Field(7, ge=1, le=40, description="Words per cue in the SRT and WebVTT outputs.")
    max_cue_seconds: float = Field(3.5, ge=0.5, le=15, description="Longest cue in seconds.")

    @model_validator(mode="after")
    def _engine_fits(self):
        if self.subtitles and self.engine != "auto":
            raise FieldError("engine", "with subtitles the words come from them: leave engine at auto")
        if problem := language_problem(self.engine, self.language):
            raise FieldError("language", problem)
        return self


class Transcribe(Operation):
    name = "transcribe"
    description = "Speech to text with word timings (pocketsphinx, whisper, OpenAI, or your subtitles); SRT + VTT."
    params_model = TranscribeParams
    input_kinds = ("video", "audio")
    asset_params = {"subtitles": ("subtitle",)}

    def capabilities(self) -> dict:
        return {"engines": ["pocketsphinx", "openai", *(["whisper"] if whisper.problem() is None else [])]}

    def check_inputs(self, assets: list, params: TranscribeParams) -> dict[str, list[str]]:
        """Also what depends on this server: whether whisper is set up, and what `auto` then stands for."""
        errors = audio_problems(assets) | super().check_inputs(assets, params)
        if problem := setup_problem(params.engine, params.language, subtitles=bool(params.subtitles)):
            errors[f"params.{problem[0]}"] = [problem[1]]
        return errors

    def run(self, ctx, params: TranscribeParams) -> Outcome:
        source = ctx.inputs[0]
        wav = ctx.workdir / "speech.wav"
        stream = ffmpeg.input(str(ctx.local_path(source)), **ctx.input_options())
        args = stream.audio.output(str(wav), ac=1, ar=16000, **{"c:a": "pcm_s16le"}).get_args()
        ctx.ffmpeg(args, duration=source.duration, stage="extracting_audio", span=EXTRACT_SPAN)

        low = EXTRACT_SPAN[1]
        ctx.set_stage("transcribing", progress=low, eta_seconds=None)
        started = time.monotonic()

        def on_progress(fraction: float) -> None:
            """Beats the job (a cancel raises Cancelled here); the ETA once a tenth is done."""
            elapsed = time.monotonic() - started
            eta = round(elapsed * (1 - fraction) / fraction) if fraction >= 0.1 else None
            progress = max(ctx.job.progress, round(low + (DECODE_END - low) * fraction, 1))
            ctx._beat(progress=progress, eta_seconds=eta)

        engine = resolve(params.engine, subtitles=bool(params.subtitles))
        if engine == "subtitles":
            subtitles = ctx.local_path(ctx.param_asset("subtitles"))
            transcript = transcribe_with_subtitles(wav, subtitles, language=params.language, on_progress=on_progress)
        else:
            transcript = transcribe_audio(
                wav, engine=engine, language=params.language, owner=ctx.job.owner, on_progress=on_progress
            )
        files = []
        if transcript.words:  # an empty SRT is no file at all: silence gives the result alone
            cue_list = cues(transcript.words, max_words=params.max_words_per_cue, max_seconds=params.max_cue_seconds)
            for fmt in ("srt", "vtt"):
                path = write_subtitles(cue_list, ctx.output_path(f"transcript.{fmt}"), fmt)
                files.append(OutputFile(path, f"{ctx.stem(source)}.{fmt}"))
        return Outcome(files=files, result=transcript.to_result())
