"""Clip edits: fillers and long silences cut between words, the words retimed onto the kept spans."""

import random

import pytest

from compositions.highlights.edit import MIN_SPAN, is_filler, plan_edit
from jobs.transcription.transcript import Word


def words(*timed: tuple[str, float, float]) -> list[Word]:
    return [Word(text, start, end) for text, start, end in timed]


def assert_consistent(edit, start: float, end: float) -> None:
    """Spans in order inside [start, end]; words monotonic and inside the output; the seams add up."""
    assert edit.spans[0][0] >= start and edit.spans[-1][1] <= end
    assert all(a[1] < b[0] for a, b in zip(edit.spans, edit.spans[1:], strict=False))
    assert edit.duration == pytest.approx(sum(e - s for s, e in edit.spans))
    assert edit.to_output(end) == pytest.approx(edit.duration)
    for word in edit.words:
        assert 0 <= word.start <= word.end <= edit.duration + 1e-9
    assert all(a.start <= b.start for a, b in zip(edit.words, edit.words[1:], strict=False))


def test_nothing_removed_keeps_one_span_and_shifts_words_to_zero():
    source = words(("Hello", 10.2, 10.6), ("there", 10.7, 11.1), ("friend.", 11.2, 11.8))
    edit = plan_edit(source, 10.0, 12.0)
    assert edit.spans == [(10.0, 12.0)]
    assert [(w.word, w.start, w.end) for w in edit.words] == [
        ("Hello", pytest.approx(0.2), pytest.approx(0.6)),
        ("there", pytest.approx(0.7), pytest.approx(1.1)),
        ("friend.", pytest.approx(1.2), pytest.approx(1.8)),
    ]
    assert edit.duration == pytest.approx(2.0)
    assert plan_edit(source, 10.0, 12.0, max_silence=0.5).spans == [(10.0, 12.0)]  # no silence that long


def test_fillers_are_cut_and_later_words_shift_by_the_removed_time():
    source = words(
        ("So", 0.0, 0.3), ("um,", 0.5, 0.9), ("I", 1.0, 1.1), ("think", 1.2, 1.5), ("Uh", 1.6, 2.0), ("yes.", 2.1, 2.5)
    )  # fmt: skip
    edit = plan_edit(source, 0.0, 2.5, remove_fillers=True)
    assert [w.word for w in edit.words] == ["So", "I", "think", "yes."]
    # The silence before and after each filler stays, the filler itself goes.
    assert edit.spans == [(0.0, pytest.approx(0.5)), (pytest.approx(0.9), pytest.approx(1.6)), (2.0, 2.5)]
    retimed = {w.word: w for w in edit.words}
    assert retimed["So"].start == 0.0
    assert retimed["I"].start == pytest.approx(1.0 - 0.4)
    assert retimed["yes."].start == pytest.approx(2.1 - 0.8)
    assert edit.duration == pytest.approx(2.5 - 0.8)
    assert_consistent(edit, 0.0, 2.5)
    assert [w.word for w in plan_edit(source, 0.0, 2.5).words] == [w.word for w in source]  # off by default


def test_filler_rule_takes_hesitations_only():
    for text in ("um", "Umm,", "uh", "uhm", "erm", "er...", "ah", "Hmm?", "mm", "mmm"):
        assert is_filler(Word(text, 0, 1)), text
    for text in ("like", "you", "know", "so", "well", "a", "I", "hum", "arm", "summer", "m"):
        assert not is_filler(Word(text, 0, 1)), text


def test_a_long_silence_shrinks_to_max_silence_cut_in_its_middle():
    source = words(("before", 0.0, 1.0), ("after", 4.0, 5.0))  # a 3 s gap
    edit = plan_edit(source, 0.0, 5.0, max_silence=0.5)
    assert edit.spans == [(0.0, pytest.approx(1.25)), (pytest.approx(3.75), 5.0)]  # 0.25 s of room each side
    before, after = edit.words
    assert after.start - before.end == pytest.approx(0.5)
    assert edit.duration == pytest.approx(2.5)
    assert_consistent(edit, 0.0, 5.0)


def test_silence_at_the_clip_edges_keeps_max_silence_next_to_the_words():
    edit = plan_edit(words(("only", 3.0, 4.0)), 0.0, 6.0, max_silence=0.5)
    assert edit.spans == [(pytest.approx(2.5), pytest.approx(4.5))]
    assert (edit.words[0].start, edit.words[0].end) == (pytest.approx(0.5), pytest.approx(1.5))


def test_a_short_word_between_fillers_is_not_left_as_a_sliver():
    """ "a" is 0.05 s with fillers touching it: a span that short is joined to its neighbour, so one filler's cut is
    undone and that filler is heard (and captioned) again."""
    source = words(("Go", 0.0, 0.4), ("um", 0.4, 0.8), ("a", 0.8, 0.85), ("uh", 0.85, 1.3), ("now", 1.3, 1.7))
    edit = plan_edit(source, 0.0, 1.7, remove_fillers=True)
    assert all(e - s >= MIN_SPAN for s, e in edit.spans)
    assert len(edit.spans) == 2
    assert [w.word for w in edit.words] in (["Go", "um", "a", "now"], ["Go", "a", "uh", "now"])
    assert_consistent(edit, 0.0, 1.7)


def test_words_outside_the_clip_are_left_out_and_edge_words_clamped():
    source = words(("cut", 0.0, 1.0), ("edge", 1.8, 2.4), ("in", 2.5, 3.0), ("late", 3.8, 4.6))
    edit = plan_edit(source, 2.0, 4.0)
    assert [w.word for w in edit.words] == ["edge", "in"]  # "late" has its middle after the end
    assert edit.words[0].start == 0.0


def test_only_fillers_leave_the_clip_whole():
    edit = plan_edit(words(("um", 0.2, 0.6), ("uh", 1.0, 1.4)), 0.0, 2.0, remove_fillers=True, max_silence=0.3)
    assert edit.spans == [(0.0, 2.0)]
    assert [w.word for w in edit.words] == ["um", "uh"]


@pytest.mark.parametrize("seed", range(40))
def test_no_span_boundary_falls_inside_a_word(seed):
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    source, cursor = [], rng.uniform(0, 1)
    for _ in range(rng.randint(1, 25)):
        cursor += rng.choice([0.0, 0.02, 0.1, 0.3, 0.8, 2.5]) * rng.random()
        length = rng.uniform(0.03, 0.6)
        source.append(Word(rng.choice(["um", "uh", "hmm", "word", "a", "clip", "yes."]), cursor, cursor + length))
        cursor += length
    start, end = 0.0, cursor + rng.uniform(0, 2)
    edit = plan_edit(source, start, end, remove_fillers=rng.random() < 0.7, max_silence=rng.choice([None, 0.2, 0.6]))
    boundaries = [t for span in edit.spans for t in span if start < t < end]
    for word in source:
        assert not any(word.start < t < word.end for t in boundaries), (word, edit.spans)
    assert all(e - s >= MIN_SPAN for s, e in edit.spans) or len(edit.spans) == 1
    assert_consistent(edit, start, end)
    kept = sum(1 for w in source if not is_filler(w))
    assert len(edit.words) >= kept  # every non-filler word is still there
