"""Speech to text behind one call: `transcribe_audio` picks the engine, checks the language and returns a
Transcript. The `transcribe` operation and the highlights pipeline both go through it."""

from collections.abc import Callable
from pathlib import Path

from jobs.ffmpeg.errors import MediaError
from jobs.transcription import openai, sphinx, whisper
from jobs.transcription import subtitles as user_subtitles
from jobs.transcription.transcript import Transcript

ENGINES = ("auto", "pocketsphinx", "whisper", "openai")
SPHINX_LANGUAGES = ("en",)  # the only model that ships in the pocketsphinx wheel


def resolve(engine: str, *, subtitles: bool = False) -> str:
    """The engine `auto` stands for: the user's subtitles when given, whisper when configured, else pocketsphinx."""
    if engine != "auto":
        return engine
    if subtitles:
        return "subtitles"
    return "whisper" if whisper.configured() else "pocketsphinx"


def language_problem(engine: str, language: str) -> str | None:
    """Why `engine` cannot transcribe `language` (as far as is known before it runs), or None."""
    if engine == "pocketsphinx" and language not in SPHINX_LANGUAGES:
        return (
            f"pocketsphinx has only an English model; for '{language}' configure whisper "
            "(MEDIAHUB_WHISPER_MODEL_DIR) or use the openai engine."
        )
    return None


def setup_problem(engine: str, language: str, *, subtitles: bool = False) -> tuple[str, str] | None:
    """(param, why) when this server cannot run `engine` (as `auto` resolves here) for `language`; else None.
    Operations check it at submit, so a job that could only fail is a 400 instead."""
    name = resolve(engine, subtitles=subtitles)
    if name == "whisper" and (problem := whisper.problem()):
        return "engine", problem
    if problem := language_problem(name, language):
        return "language", problem
    return None


def audio_problems(assets: list) -> dict[str, list[str]]:
    """Field errors (`inputs.N`) for inputs without an audio stream: there is no speech to transcribe."""
    return {f"inputs.{i}": [f"{asset.id}: input has no audio stream."] for i, asset in enumerate(assets)
            if not asset.has_audio}  # fmt: skip


def transcribe_audio(
    wav: Path,
    *,
    engine: str = "pocketsphinx",
    language: str = "en",
    owner=None,
    on_progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe a 16 kHz mono 16-bit PCM WAV. `on_progress(0..1)` is called at least once a second while work
    runs and may raise Cancelled to stop it (worker processes are killed). `owner` is needed by the openai
    engine (their provider key). Errors are MediaError: language_not_supported, engine_unavailable, …"""
    name = resolve(engine)
    if name not in ENGINES:
        raise MediaError("engine_unavailable", f"There is no transcription engine '{engine}'.")
    if problem := language_problem(name, language):
        raise MediaError("language_not_supported", problem)
    if name == "pocketsphinx":
        transcript = sphinx.transcribe(wav, on_progress)
    elif name == "whisper":
        transcript = whisper.transcribe(wav, language, on_progress)
    elif owner is None:
        raise MediaError("no_credentials", "The openai engine needs the owner whose provider key it uses.")
    else:
        transcript = openai.transcribe(wav, language, owner, on_progress)
    return _done(transcript, on_progress)


def transcribe_with_subtitles(
    wav: Path, subtitles: Path, *, language: str = "en", on_progress: Callable[[float], None] | None = None
) -> Transcript:
    """The words of the user's SRT/WebVTT file, timed against the audio (see jobs.transcription.subtitles)."""
    return _done(user_subtitles.transcribe(wav, subtitles, language, on_progress), on_progress)


def _done(transcript: Transcript, on_progress: Callable[[float], None] | None) -> Transcript:
    if on_progress is not None:
        on_progress(1.0)
    return transcript
