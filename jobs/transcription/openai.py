"""OpenAI-compatible transcription (POST /v1/audio/transcriptions, verbose_json with word timestamps) with the
owner's OpenAI provider credential, at the base URL generations use (MEDIAHUB_PROVIDERS["openai"])."""

import math
import re
import tempfile
import threading
import wave
from collections.abc import Callable
from pathlib import Path

from django.db.models import F

from jobs.ffmpeg.errors import MediaError
from jobs.transcription.transcript import Transcript, Word, ends_sentence
from jobs.transcription.vad import SAMPLE_RATE, chunks, read_wav, speech_segments, wav_duration
from keys.models import ProviderCredential
from providers.adapters import get_adapter
from providers.adapters.base import INVALID_CREDENTIALS, ProviderError
from providers.adapters.http import answer, json_object, send, status_code_error

MODEL = "whisper-1"
# The API takes files up to 25 MB: longer audio goes in pieces cut at pauses, each under this length.
MAX_UPLOAD_BYTES = 25 * 2**20
PIECE_SECONDS = 600.0
REQUEST_TIMEOUT = 600.0
_NORMAL = re.compile(r"[^\w']+")


def credential_for(owner) -> ProviderCredential:
    """The owner's working OpenAI credential used longest ago (several keys take turns, as for generations)."""
    usable = ProviderCredential.objects.filter(
        owner=owner, provider=ProviderCredential.Provider.OPENAI, status=ProviderCredential.Status.ACTIVE
    )
    credential = usable.order_by(F("last_used_at").asc(nulls_first=True), "created_at").first()
    if credential is None:
        raise MediaError("no_credentials", "Add an OpenAI provider key to transcribe with the openai engine.")
    return credential


def normal(word: str) -> str:
    return _NORMAL.sub("", word).lower()


def punctuate(words: list[Word], text: str) -> list[Word]:
    """The answer's `words` carry no punctuation, its `text` does: each word takes the next token of the text
    that reads the same (a few tokens ahead at most, so one mismatch does not shift the rest)."""
    tokens, position = text.split(), 0
    for word in words:
        for ahead in range(position, min(position + 3, len(tokens))):
            if normal(tokens[ahead]) == normal(word.word):
                word.word, position = tokens[ahead], ahead + 1
                break
    return words


def parse(body: dict, offset: float) -> list[Word]:
    """verbose_json → words (times from `offset`), confidences from their segment's average log-probability."""
    segments = [s for s in body.get("segments") or [] if isinstance(s, dict)]
    items = body.get("words")
    timed = isinstance(items, list) and all(isinstance(i, dict) and {"word", "start", "end"} <= set(i) for i in items)
    if not timed:
        raise MediaError("provider_error", "The transcription answer has no word timings (verbose_json words).")
    words = []
    for item in items:
        start, end = float(item["start"]), float(item["end"])
        middle = (start + end) / 2
        segment = next((s for s in segments if s.get("start", 0) <= middle <= s.get("end", 0)), {})
        confidence = min(1.0, math.exp(segment["avg_logprob"])) if "avg_logprob" in segment else 1.0
        words.append(Word(str(item["word"]).strip(), offset + start, offset + end, confidence))
    text = body.get("text") or " ".join(str(s.get("text", "")) for s in segments)
    return punctuate([w for w in words if w.word], text)


def pieces(wav: Path, directory: Path) -> list[tuple[Path, float]]:
    """The WAV as it is when small enough, else slices cut at pauses: (file, its start in seconds)."""
    if wav.stat().st_size <= MAX_UPLOAD_BYTES:
        return [(wav, 0.0)]
    result = []
    with read_wav(wav) as audio:
        for index, group in enumerate(chunks(speech_segments(wav), PIECE_SECONDS)):
            start, end = group[0][0], group[-1][1]
            audio.setpos(int(start * SAMPLE_RATE))
            path = directory / f"piece-{index}.wav"
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                out.writeframes(audio.readframes(int((end - start) * SAMPLE_RATE)))
            result.append((path, start))
    return result


def waiting(call: Callable, on_progress: Callable[[float], None] | None, fraction: float):
    """Run `call` on a side thread, reporting `fraction` every half second (a cancel raises out of the wait;
    the request then ends on its own timeout, its answer unread)."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 (re-raised in the caller's thread)
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        if on_progress is not None:
            on_progress(fraction)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def request(path: Path, language: str, secret: str) -> dict:
    adapter = get_adapter("openai")
    fields = {"model": MODEL, "response_format": "verbose_json", "timestamp_granularities[]": "word"}
    if language:
        fields["language"] = language
    with path.open("rb") as audio, adapter.client(timeout=REQUEST_TIMEOUT) as client:
        response = send(
            client,
            "POST",
            "/v1/audio/transcriptions",
            data=fields,
            files={"file": (path.name, audio, "audio/wav")},
            headers={"Authorization": f"Bearer {secret}"},
        )
    return answer(response, error_of, "OpenAI")


def error_of(response) -> ProviderError:
    detail = (json_object(response) or {}).get("error")
    message = str(detail.get("message") or "") if isinstance(detail, dict) else ""
    return status_code_error(response, message)


def transcribe(wav: Path, language: str, owner, on_progress: Callable[[float], None] | None = None) -> Transcript:
    credential = credential_for(owner)
    secret = credential.parts()["secret"]
    duration = wav_duration(wav)
    words: list[Word] = []
    with tempfile.TemporaryDirectory(prefix="transcribe-") as directory:
        parts = pieces(wav, Path(directory))
        for index, (path, offset) in enumerate(parts):
            try:
                body = waiting(
                    lambda path=path: request(path, language, secret),
                    on_progress,
                    index / len(parts),
                )
            except ProviderError as exc:
                raise provider_failure(credential, exc) from None
            words += parse(body, offset)
    punctuated = any(ends_sentence(word.word) for word in words)
    return Transcript(words, language=language, engine="openai", duration=duration, punctuated=punctuated)


def provider_failure(credential: ProviderCredential, exc: ProviderError) -> MediaError:
    """A refused key is marked invalid (as generations do) and named by its last four characters only."""
    if exc.code == INVALID_CREDENTIALS:
        credential.status = ProviderCredential.Status.INVALID
        credential.status_message = f"OpenAI refused the key (HTTP {exc.http_status})."
        credential.save(update_fields=["status", "status_message"])
        return MediaError(
            "invalid_credentials",
            f"OpenAI refused the provider key {credential.masked} (HTTP {exc.http_status}); add a working key.",
        )
    return MediaError(exc.code, f"OpenAI transcription failed: {exc.message}")
