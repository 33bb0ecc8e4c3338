"""The pocketsphinx engine: speech found by the VAD, decoded in chunks by a pool of worker processes."""

from collections.abc import Callable
from pathlib import Path

from jobs.transcription.transcript import Transcript, Word
from jobs.transcription.vad import chunks, speech_segments, wav_duration
from jobs.transcription.workers import run_pool

WORKER = "jobs.transcription.sphinx_worker"
# A chunk is what one process decodes before it takes the next: short enough to share the work evenly.
CHUNK_SECONDS = 10.0
# Decoding runs at about a tenth of real time per core here; the limit leaves room for a crowded machine.
TIMEOUT_BASE, TIMEOUT_PER_AUDIO_SECOND = 60.0, 2.0


def timeout_for(duration: float) -> float:
    return TIMEOUT_BASE + TIMEOUT_PER_AUDIO_SECOND * duration


def words_of(answer: dict) -> list[Word]:
    return [Word(word, start, end, confidence) for word, start, end, confidence in answer["words"]]


def transcribe(wav: Path, on_progress: Callable[[float], None] | None = None) -> Transcript:
    duration = wav_duration(wav)
    groups = chunks(speech_segments(wav), CHUNK_SECONDS)
    tasks = [{"segments": group} for group in groups]
    weights = [sum(end - start for start, end in group) for group in groups]
    answers = run_pool(
        WORKER, [str(wav)], tasks, weights=weights, on_progress=on_progress, timeout=timeout_for(duration)
    )
    words = [word for answer in answers for word in words_of(answer)]
    return Transcript(words=words, language="en", engine="pocketsphinx", duration=duration)


def align(wav: Path, spans: list[tuple[float, float, str]], on_progress=None) -> list[list[Word] | None]:
    """Forced alignment: each (start, end, text) span's words timed inside it, None where alignment failed."""
    tasks = [{"segments": [[start, end]], "text": text} for start, end, text in spans]
    weights = [end - start for start, end, _ in spans]
    duration = wav_duration(wav)
    answers = run_pool(
        WORKER, [str(wav)], tasks, weights=weights, on_progress=on_progress, timeout=timeout_for(duration)
    )
    return [words_of(answer) if "words" in answer else None for answer in answers]
