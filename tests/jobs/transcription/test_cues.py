"""Cue building from timed words (shared with highlight captions) and the subtitle files written from cues."""

import pysubs2

from jobs.transcription.cues import cues, write_subtitles
from jobs.transcription.transcript import Word


def timed(*words: str, start: float = 0.0, length: float = 0.3, gap: float = 0.05) -> list[Word]:
    result = []
    for word in words:
        result.append(Word(word, start, start + length))
        start += length + gap
    return result


def test_a_cue_never_crosses_a_sentence_end():
    words = timed("One", "two.", "Three", "four?", "Five")
    assert [text for _, _, text in cues(words)] == ["One two.", "Three four?", "Five"]


def test_a_pause_starts_a_new_cue_at_the_next_word():
    words = timed("before", "the", "pause") + timed("after", "it", start=3.0)
    assert cues(words) == [(0.0, 1.0, "before the pause"), (3.0, 3.65, "after it")]


def test_cues_hold_at_most_max_words_and_max_seconds():
    words = timed(*"abcdefghij")

    assert [len(text.split()) for _, _, text in cues(words, max_words=4, max_seconds=60)] == [4, 4, 2]
    assert all(end - start <= 1.0 for start, end, _ in cues(words, max_words=20, max_seconds=1.0))


def test_srt_and_vtt_files_read_back_with_the_same_cues(tmp_path):
    built = [(0.5, 1.25, "Hello there,"), (2.0, 3.5, "she said: 'no' & more…")]
    for fmt in ("srt", "vtt"):
        events = list(pysubs2.load(str(write_subtitles(built, tmp_path / f"out.{fmt}", fmt)), encoding="utf-8"))
        assert [(e.start, e.end, e.plaintext) for e in events] == [(500, 1250, built[0][2]), (2000, 3500, built[1][2])]
    assert (tmp_path / "out.vtt").read_text().startswith("WEBVTT")
