"""Subtitle cues from timed words, and the SRT / WebVTT files written from them (pysubs2)."""

from pathlib import Path

import pysubs2

from jobs.transcription.transcript import SENTENCE_PAUSE, Word, ends_sentence

Cue = tuple[float, float, str]  # start, end (seconds), text


def cues(words: list[Word], *, max_words: int = 7, max_seconds: float = 3.5) -> list[Cue]:
    """Words grouped into cues that never cross a sentence end (punctuation or a pause) and hold at most
    `max_words` words and `max_seconds` seconds; a cue starts when its first word is spoken."""
    result: list[Cue] = []
    group: list[Word] = []
    for word in words:
        if group and (
            len(group) >= max_words
            or word.end - group[0].start > max_seconds
            or word.start - group[-1].end >= SENTENCE_PAUSE
            or ends_sentence(group[-1].word)
        ):
            result.append(_cue(group))
            group = []
        group.append(word)
    if group:
        result.append(_cue(group))
    return result


def _cue(group: list[Word]) -> Cue:
    return group[0].start, max(group[-1].end, group[0].start + 0.001), " ".join(w.word for w in group)


def write_subtitles(cue_list: list[Cue], path: Path, fmt: str) -> Path:
    """`fmt` is "srt" or "vtt"."""
    document = pysubs2.SSAFile()
    for start, end, text in cue_list:
        event = pysubs2.SSAEvent(start=round(start * 1000), end=round(end * 1000))
        event.plaintext = text
        document.append(event)
    document.save(str(path), format_=fmt, encoding="utf-8")
    return path
