import pytest

from compositions.highlights import topics
from compositions.highlights.selection import FEATURES, WEIGHTS, Highlight, pick_highlights
from compositions.highlights.signals import Signals
from jobs.transcription.transcript import Transcript, Word
from tests.compositions.highlights.test_topics import BICYCLES, COFFEE, OCEAN, THREE_TOPICS

RATE = 2.5  # words per second
PAUSE = 0.7  # seconds between sentences


def make_transcript(sentences: list[str], *, punctuated: bool = True, offset: float = 0.5) -> Transcript:
    """Words at RATE words/s (each word 80 % of its slot), PAUSE seconds of silence between sentences."""
    words, t, step = [], offset, 1 / RATE
    for sentence in sentences:
        for token in sentence.split():
            words.append(Word(token, round(t, 3), round(t + 0.8 * step, 3)))
            t += step
        t += PAUSE - 0.2 * step
    return Transcript(words, punctuated=punctuated, duration=round(t + 1.0, 3))


def make_signals(transcript: Transcript, *, cuts: list[float] | None = None) -> Signals:
    """Silences in the pauses between sentences; speech at −20 LUFS, pauses at −45, every 0.1 s."""
    words = transcript.words
    silences = [(a.end + 0.05, b.start - 0.05) for a, b in zip(words, words[1:], strict=False) if b.start - a.end > 0.4]
    loudness = []
    for step in range(int(transcript.duration * 10)):
        t = step / 10
        loudness.append((t, -20.0 if any(w.start <= t <= w.end for w in words) else -45.0))
    return Signals(duration=transcript.duration, silences=silences, loudness=loudness, cuts=cuts or [])


def pick(transcript: Transcript, signals: Signals | None = None, **options) -> list[Highlight]:
    options = {"count": 3, "min_duration": 8.0, "max_duration": 20.0} | options
    return pick_highlights(transcript, signals or make_signals(transcript), **options)


def assert_no_word_cut(transcript: Transcript, clip: Highlight) -> None:
    words = transcript.words
    assert clip.start <= words[clip.first_word].start
    assert clip.end >= words[clip.last_word].end
    if clip.first_word:
        assert clip.start >= words[clip.first_word - 1].end
    if clip.last_word + 1 < len(words):
        assert clip.end <= words[clip.last_word + 1].start
    assert not any(w.start < edge < w.end for w in words for edge in (clip.start, clip.end))


def only_candidate(sentences: list[str]) -> Highlight:
    """The one clip of a short talk when the duration range admits only the whole talk."""
    transcript = make_transcript(sentences)
    length = transcript.words[-1].end - transcript.words[0].start
    (clip,) = pick(transcript, count=1, min_duration=length, max_duration=length + 0.6)
    return clip


def test_clips_never_cut_a_word_even_with_shot_cuts_inside_words():
    transcript = make_transcript(THREE_TOPICS)
    # Inside words but within the snap tolerance of the default edges: tempting, and wrong.
    in_word_cuts = [t for w in transcript.words for t in (w.start + 0.1, w.end - 0.05)]
    clips = pick(transcript, make_signals(transcript, cuts=in_word_cuts), count=4)
    assert len(clips) == 4
    for clip in clips:
        assert_no_word_cut(transcript, clip)
        assert clip.text == " ".join(w.word for w in transcript.words[clip.first_word : clip.last_word + 1])


def test_durations_scores_order_count_and_no_overlap():
    transcript = make_transcript(THREE_TOPICS)
    clips = pick(transcript, count=3, min_duration=10.0, max_duration=16.0)
    assert len(clips) == 3
    assert all(10.0 <= c.end - c.start <= 16.0 for c in clips)
    assert all(0 <= c.score <= 100 for c in clips)
    assert [c.score for c in clips] == sorted((c.score for c in clips), reverse=True)
    spans = sorted((c.start, c.end) for c in clips)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
    for clip in clips:
        assert set(clip.features) == set(FEATURES)
        assert all(0 <= value <= 1 for value in clip.features.values())


def test_count_larger_than_the_talk_allows_gives_fewer_clips():
    transcript = make_transcript(COFFEE)
    clips = pick(transcript, count=50)
    assert 1 <= len(clips) < 50
    assert len(pick(transcript, count=len(clips) + 1)) == len(clips)  # every clip the talk holds was given
    assert len(pick(transcript, count=0)) == 0


def test_clips_from_different_topics_are_preferred():
    clips = pick(make_transcript(THREE_TOPICS), count=3, min_duration=10.0, max_duration=16.0)
    assert sorted(c.topic for c in clips) == [0, 1, 2]
    assert all(c.features["coherence"] >= 0.5 for c in clips)  # each stays inside its topic


@pytest.mark.parametrize("punctuated", [True, False])
def test_hook_question_outranks_an_otherwise_equal_opening(punctuated):
    plain = ["A dark roast can taste very bitter indeed.", *COFFEE[1:4]]
    hooked = ["Why does a dark roast taste so bitter?", *COFFEE[1:4]]
    if not punctuated:  # pocketsphinx: lower case, no punctuation, sentences from pauses
        plain, hooked = ([s.lower().strip(".?").replace(",", "") for s in group] for group in (plain, hooked))
    transcript = make_transcript(plain + hooked, punctuated=punctuated)
    length = transcript.sentences[3].end - transcript.sentences[0].start
    best = pick(transcript, count=1, min_duration=length - 1, max_duration=length + 1)[0]
    assert best.first_word == transcript.sentences[4].first
    assert best.features["hook"] == 1.0
    assert best.reason.startswith("Opens with a question")


def test_hook_question_scores_higher_than_the_same_clip_without():
    with_hook = only_candidate(["Why does a dark roast taste so bitter?", *COFFEE[1:4]])
    without = only_candidate(["A dark roast can taste very bitter indeed.", *COFFEE[1:4]])
    assert with_hook.score > without.score
    assert with_hook.features["questions"] > without.features["questions"]


def test_filler_heavy_text_scores_lower():
    clean = only_candidate(BICYCLES[:4])
    fillers = only_candidate(
        [
            "Um a bicycle is uh powered by like pedals that um turn a chain uh to the rear wheel.",
            "Gears um let a cyclist you know climb steep hills uh without pedalling like hard.",
            *BICYCLES[2:4],
        ]
    )
    assert fillers.features["fillers"] == 1.0 and clean.features["fillers"] == 0.0
    assert fillers.score < clean.score - 10  # the penalty is 15 points; the other features barely move
    assert "filler" in fillers.reason


KEYWORDS = {
    "hook": "opens",
    "questions": "question",
    "pace": "words/s",
    "loudness": "louder",
    "energy": "energetic",
    "completeness": "complete sentences",
    "coherence": "topic",
    "duration": "length",
}


def test_reasons_name_the_strongest_feature():
    transcript = make_transcript(["How to pick a good bike? Here's the thing.", *BICYCLES, *OCEAN])
    clips = pick(transcript, count=4)
    assert clips
    for clip in clips:
        strongest = max((n for n in FEATURES if WEIGHTS[n] > 0), key=lambda n: WEIGHTS[n] * clip.features[n])
        assert KEYWORDS[strongest] in clip.reason.lower(), (strongest, clip.reason)
        assert clip.reason[0].isupper()
    assert clips[0].reason.startswith("Opens with")


def test_edges_snap_to_a_shot_cut_in_the_pause():
    transcript = make_transcript(THREE_TOPICS)
    sentences = transcript.sentences
    cuts = [a.end + 0.25 for a in sentences[:-1]]  # 0.25 s into each pause: 0.25 s from the default start
    clips = pick(transcript, make_signals(transcript, cuts=cuts), count=3)
    assert clips
    rounded = {round(c, 3) for c in cuts}
    for clip in clips:
        assert_no_word_cut(transcript, clip)
        if clip.first_word:
            assert clip.start in rounded
        assert clip.end in rounded


def test_edges_default_to_a_short_lead_in_and_tail_inside_the_pause():
    transcript = make_transcript(THREE_TOPICS)
    signals = Signals(duration=transcript.duration)  # nothing to snap to
    for clip in pick(transcript, signals, count=3):
        lead = transcript.words[clip.first_word].start - clip.start
        tail = clip.end - transcript.words[clip.last_word].end
        assert 0.15 <= lead <= 0.3 or clip.first_word == 0
        assert 0.15 <= tail <= 0.35


def test_a_sentence_longer_than_a_clip_is_split_at_pauses():
    transcript = make_transcript([" ".join(COFFEE).replace(".", ",")])  # one 30-second sentence
    clips = pick(transcript, count=2, min_duration=8.0, max_duration=15.0)
    assert clips
    for clip in clips:
        assert 8.0 <= clip.end - clip.start <= 15.0
        assert clip.features["completeness"] < 1.0
        assert_no_word_cut(transcript, clip)


@pytest.mark.parametrize(
    "transcript",
    [
        Transcript(words=[]),
        make_transcript(["Too short to make a clip."]),
        make_transcript(["Um.", "Uh."]),
    ],
)
def test_talk_shorter_than_min_duration_or_empty_gives_no_clips(transcript):
    assert pick(transcript, Signals(duration=transcript.duration or 0.0)) == []


def test_missing_signals_still_give_clips():
    transcript = make_transcript(COFFEE + OCEAN)
    clips = pick(transcript, Signals(duration=0.0), count=2)
    assert len(clips) == 2
    assert all(c.features["loudness"] == 0.5 for c in clips)


def test_tfidf_fallback_selects_too(monkeypatch):
    monkeypatch.setattr(topics, "_load_wordllama", lambda: None)
    clips = pick(make_transcript(THREE_TOPICS), count=3, min_duration=10.0, max_duration=16.0)
    assert len(clips) == 3


def test_a_ten_minute_talk_gives_the_clips_asked_for():
    """At the benchmark's scale (its time is measured by bench/highlights.py, not here)."""
    sentences = [" ".join([*s.rstrip(".").split()[:9], f"{k}."]) for k in range(8) for s in THREE_TOPICS][:150]
    transcript = make_transcript(sentences)
    assert len(transcript.sentences) == 150 and len(transcript.words) == 1500 and transcript.words[-1].end > 600
    signals = make_signals(transcript)
    clips = pick(transcript, signals, count=5, min_duration=20.0, max_duration=60.0)
    assert len(clips) == 5
