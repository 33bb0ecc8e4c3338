"""A transcript from the user's own subtitles: the words of each cue, timed by pocketsphinx forced alignment
inside the cue (English), else spread over the cue's span by their length in characters."""

import re
from collections.abc import Callable
from pathlib import Path

import pysubs2

from jobs.ffmpeg.errors import MediaError
from jobs.transcription import sphinx
from jobs.transcription.transcript import Transcript, Word, ends_sentence
from jobs.transcription.vad import wav_duration

# Alignment looks this far either side of a cue: subtitle timings are often a little early or late.
ALIGN_PADDING = 0.2
ALIGNED_LANGUAGES = ("en",)  # the acoustic model that ships with pocketsphinx
_SPOKEN = re.compile(r"[^a-z0-9']+")

Cue = tuple[float, float, list[str]]


def spoken(token: str) -> str:
    """A token as the pronouncing dictionary spells it: lower case, letters, digits and inner apostrophes."""
    return _SPOKEN.sub("", token.lower()).strip("'")


def cue_tokens(text: str) -> list[str]:
    """The cue's words as shown, each with something to say: a lone dash or note is glued to its neighbour."""
    tokens: list[str] = []
    loose = ""
    for token in text.split():
        if not spoken(token):
            if tokens:
                tokens[-1] += f" {token}"
            else:
                loose += f"{token} "
            continue
        tokens.append(loose + token)
        loose = ""
    return tokens


def read_cues(path: Path) -> list[Cue]:
    try:
        events = pysubs2.load(str(path), encoding="utf-8")
    except (pysubs2.exceptions.Pysubs2Error, UnicodeDecodeError, ValueError) as exc:
        raise MediaError("unusable_subtitles", f"The subtitles could not be read ({type(exc).__name__}).") from None
    cues = []
    for event in sorted(events, key=lambda e: e.start):
        tokens = cue_tokens(event.plaintext)
        if tokens and not event.is_comment and event.end > event.start:
            cues.append((event.start / 1000, event.end / 1000, tokens))
    return cues


def spread(start: float, end: float, tokens: list[str]) -> list[Word]:
    """Each word gets a share of the cue's span proportional to its length."""
    lengths = [len(spoken(token)) for token in tokens]
    step = (end - start) / sum(lengths)
    words, at = [], start
    for token, length in zip(tokens, lengths, strict=True):
        words.append(Word(token, at, at + length * step))
        at += length * step
    return words


def transcribe(
    wav: Path, subtitles: Path, language: str, on_progress: Callable[[float], None] | None = None
) -> Transcript:
    duration = wav_duration(wav)
    cues = read_cues(subtitles)
    aligned: list[list[Word] | None] = [None] * len(cues)
    if language in ALIGNED_LANGUAGES:
        spans = [
            (max(0.0, start - ALIGN_PADDING), min(duration, end + ALIGN_PADDING), " ".join(map(spoken, tokens)))
            for start, end, tokens in cues
        ]
        usable = [index for index, (start, end, _) in enumerate(spans) if end > start]
        results = sphinx.align(wav, [spans[index] for index in usable], on_progress=on_progress)
        for index, words in zip(usable, results, strict=True):
            aligned[index] = words
    words = []
    for (start, end, tokens), timed in zip(cues, aligned, strict=True):
        if timed is None:
            words += spread(start, end, tokens)
        else:  # the aligner's words are the spoken forms, in order: show the cue's own
            words += [Word(token, w.start, w.end, w.confidence) for token, w in zip(tokens, timed, strict=True)]
    punctuated = any(ends_sentence(word.word) for word in words)
    return Transcript(words, language=language, engine="subtitles", duration=duration, punctuated=punctuated)
