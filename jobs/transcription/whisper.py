"""The faster-whisper engine: only with a local CTranslate2 model (MEDIAHUB_WHISPER_MODEL_DIR) and the
`whisper` extra installed; nothing is ever downloaded."""

import importlib.util
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from jobs.ffmpeg.errors import MediaError
from jobs.transcription.sphinx import words_of
from jobs.transcription.transcript import Transcript
from jobs.transcription.vad import wav_duration
from jobs.transcription.workers import run_pool

WORKER = "jobs.transcription.whisper_worker"
MODEL_FILES = ("model.bin", "config.json")  # what every CTranslate2 model directory holds


def configured() -> bool:
    return bool(settings.MEDIAHUB_WHISPER_MODEL_DIR)


def problem() -> str | None:
    """Why the whisper engine cannot run here, or None when it can."""
    if not configured():
        return "MEDIAHUB_WHISPER_MODEL_DIR is not set."
    if importlib.util.find_spec("faster_whisper") is None:
        return "faster-whisper is not installed (pip install 'mediahub[whisper]')."
    directory = Path(settings.MEDIAHUB_WHISPER_MODEL_DIR)
    missing = [name for name in MODEL_FILES if not (directory / name).is_file()]
    if missing:
        return f"MEDIAHUB_WHISPER_MODEL_DIR is not a CTranslate2 model directory (no {', '.join(missing)})."
    return None


def transcribe(wav: Path, language: str, on_progress: Callable[[float], None] | None = None) -> Transcript:
    if reason := problem():
        raise MediaError("engine_unavailable", f"The whisper engine is not available: {reason}")
    duration = wav_duration(wav)
    [answer] = run_pool(
        WORKER,
        [str(wav), settings.MEDIAHUB_WHISPER_MODEL_DIR],
        [{"language": language}],
        weights=[1.0],
        on_progress=on_progress,
        timeout=settings.MEDIAHUB_JOB_TIMEOUT,  # a large model on a CPU can run slower than real time
        processes=1,
    )
    if "error" in answer:
        raise MediaError(answer.get("code", "transcription_failed"), f"whisper: {answer['error']}")
    return Transcript(words_of(answer), language=language, engine="whisper", duration=duration, punctuated=True)
