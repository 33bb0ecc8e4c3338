"""Which parts of the source a highlight clip keeps: filler words and long silences cut out, never inside a word,
and the clip's words retimed onto the output timeline (0 = the first kept instant)."""

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from jobs.transcription.transcript import Word

# Hesitation sounds only. "like", "you know", "so" and "well" are kept: as often as not they carry meaning
# ("I like it", "you know the answer"), and word timings alone cannot tell the two uses apart.
FILLER = re.compile(r"u+m+|u+h+m*|e+r+m+|e+r|a+h+|h+m+|m{2,}")
_EDGE_PUNCTUATION = ".,!?…;:-–—\"'()[]"
# A kept or cut stretch shorter than this is not worth a seam: cuts that short are not made, kept spans that
# short are joined to a neighbour.
MIN_SPAN = 0.1


@dataclass
class Edit:
    spans: list[tuple[float, float]]  # kept (source_start, source_end), in order
    words: list[Word]  # on the output timeline

    @property
    def duration(self) -> float:
        return sum(end - start for start, end in self.spans)

    def to_output(self, time: float) -> float:
        """A source time on the output timeline; a time inside a cut maps to the seam."""
        elapsed = 0.0
        for start, end in self.spans:
            if time < end:
                return elapsed + max(0.0, time - start)
            elapsed += end - start
        return elapsed


def is_filler(word: Word) -> bool:
    return bool(FILLER.fullmatch(word.word.strip().strip(_EDGE_PUNCTUATION).lower()))


def plan_edit(
    words: Sequence[Word], start: float, end: float, *, remove_fillers: bool = False, max_silence: float | None = None
) -> Edit:
    """The spans of [start, end] to keep and the words retimed onto them.

    Words count as the clip's when their middle lies in [start, end] (their times are clamped to it). Fillers go
    with the silence around them; a silence (or what surrounds removed fillers) longer than `max_silence` keeps
    half of `max_silence` after the word before it and half before the word after it (the full `max_silence` at
    the clip's ends). A clip made only of fillers is left whole."""
    inside = sorted(
        (
            replace(w, start=max(w.start, start), end=min(w.end, end))
            for w in words
            if start <= (w.start + w.end) / 2 <= end
        ),
        key=lambda w: w.start,
    )
    kept = [w for w in inside if not (remove_fillers and is_filler(w))]
    spans = [(start, end)]
    if kept:
        spans = _merge_short(_complement(start, end, _cuts(inside, kept, start, end, max_silence)))
    edit = Edit(spans=spans, words=[])
    edit.words = [_retimed(w, edit) for w in inside if _kept(w, spans)]
    return edit


def _cuts(inside: list[Word], kept: list[Word], start: float, end: float, max_silence: float | None) -> list:
    """One cut at most per stretch between kept words (and at either end of the clip)."""
    budget = float("inf") if max_silence is None else max_silence
    kept_ids = {id(w) for w in kept}
    cuts = []
    bounds = [None, *kept, None]
    for before, after in zip(bounds, bounds[1:], strict=False):
        left = before.end if before else start
        right = after.start if after else end
        removed = [w for w in inside if id(w) not in kept_ids and left <= w.start and w.end <= right]
        # Silence kept at each side: up to the first removed filler / after the last one, else half the gap.
        lead = (removed[0].start - left) if removed else (right - left) / 2
        trail = (right - removed[-1].end) if removed else (right - left) / 2
        if before is None:
            lead, trail = 0.0, min(trail + (0 if removed else lead), budget)
        elif after is None:
            lead, trail = min(lead + (0 if removed else trail), budget), 0.0
        else:
            lead, trail = min(lead, budget / 2), min(trail, budget / 2)
        cut = (left + lead, right - trail)
        if cut[1] - cut[0] >= MIN_SPAN:
            cuts.append(cut)
    return cuts


def _complement(start: float, end: float, cuts: list) -> list[tuple[float, float]]:
    spans, cursor = [], start
    for cut_start, cut_end in cuts:
        if cut_start > cursor:
            spans.append((cursor, cut_start))
        cursor = max(cursor, cut_end)
    if cursor < end:
        spans.append((cursor, end))
    return spans


def _merge_short(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A span shorter than MIN_SPAN (a short word squeezed between fillers) is joined to a neighbour across the
    shorter cut beside it: the cut is undone rather than a seam made, and span ends stay between words."""
    spans = list(spans)
    while len(spans) > 1:
        short = next((i for i, (s, e) in enumerate(spans) if e - s < MIN_SPAN), None)
        if short is None:
            break
        _, left = min((spans[j + 1][0] - spans[j][1], j) for j in (short - 1, short) if 0 <= j < len(spans) - 1)
        spans[left : left + 2] = [(spans[left][0], spans[left + 1][1])]
    return spans


def _kept(word: Word, spans: list[tuple[float, float]]) -> bool:
    middle = (word.start + word.end) / 2
    index = bisect.bisect_right([s for s, _ in spans], middle) - 1
    return index >= 0 and middle <= spans[index][1]


def _retimed(word: Word, edit: Edit) -> Word:
    return replace(word, start=edit.to_output(word.start), end=edit.to_output(word.end))
