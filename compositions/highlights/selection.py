"""Choosing highlight clips from a transcribed talk: sentence windows scored by transparent features, picked greedily.

Every feature is a number in 0–1; the score is Σ weight·feature (fillers subtract), clipped to 0–100.
"""

import math
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from compositions.highlights.signals import Signals
from compositions.highlights.topics import boundaries_from_embeddings, embed_sentences, topic_of_sentences
from jobs.transcription.transcript import Sentence, Transcript, Word

FEATURES = ("hook", "questions", "pace", "loudness", "energy", "completeness", "coherence", "duration", "fillers")
# Points per feature at value 1; the positive ones sum to 100, fillers is a penalty.
WEIGHTS = {
    "hook": 22.0,  # the first seconds decide whether a viewer keeps watching
    "questions": 8.0,
    "pace": 12.0,
    "loudness": 10.0,
    "energy": 8.0,
    "completeness": 12.0,
    "coherence": 15.0,
    "duration": 13.0,
    "fillers": -15.0,
}

HOOK_SECONDS = 5.0  # the hook is looked for in words starting this soon after the clip's first word
HOOK_PHRASES = re.compile(
    r"\b(here's the thing|the secret|you won't believe|the truth is|the problem is|nobody tells you|"
    r"the biggest mistake|what if|imagine|let me tell you|the key is|the reason|why|how to)\b"
)
NUMBER = re.compile(
    r"\b(\d[\d,.]*|three|four|five|six|seven|eight|nine|ten|twenty|hundred|thousand|million|billion|percent)\b"
)
# Without punctuation (pocketsphinx) a sentence opening with one of these counts as a question.
INTERROGATIVE = re.compile(
    r"^(what|why|how|who|when|where|which|do you|did you|have you|are you|is it|can you|would you)\b"
)
FILLERS = {"um", "uh", "uhm", "erm", "er", "ah", "hmm", "mm", "like", "basically", "literally", "actually"}
FILLER_PAIRS = {("you", "know"), ("i", "mean"), ("sort", "of"), ("kind", "of")}
FILLER_SATURATION = 0.10  # this share of filler words or more is the full penalty

PACE_BEST = 2.7  # words per second: lively but clear
PACE_SPAN = 1.5  # pace scores 0 this far from the best
LOUDNESS_SPAN = 6.0  # LU above (below) the talk's mean loudness for a loudness score of 1 (0); equal is 0.5
ENERGY_FULL = 4.0  # LU standard deviation of the speech's momentary loudness for an energy score of 1
SILENT_LUFS = -70.0  # momentary loudness below this is digital silence, not quiet speech
SPEECH_GATE = 10.0  # LU below the talk's mean: pauses, not speech, so they weigh in neither loudness nor energy

LEAD_IN = 0.2  # seconds of air before the first word, never more than half the pause before it
TAIL = 0.3  # seconds after the last word, never more than half the pause after it
SNAP_TOLERANCE = 0.35  # an edge moves to a shot cut (first choice) or silence edge this close, inside the pause
TOPIC_REPEAT_PENALTY = 3.0  # points a clip loses in the pick when a chosen clip already covers its topic


@dataclass
class Highlight:
    start: float
    end: float
    score: float
    reason: str
    features: dict[str, float]
    text: str
    first_word: int
    last_word: int
    topic: int


@dataclass
class _Candidate:
    highlight: Highlight
    facts: dict  # raw measures behind the features, for the reason text


@dataclass
class _Unit:
    """A sentence, or a piece of one too long for a clip; candidates are runs of consecutive units."""

    first: int
    last: int
    sentence: int
    starts_sentence: bool
    ends_sentence: bool


def pick_highlights(
    transcript: Transcript, signals: Signals, *, count: int, min_duration: float, max_duration: float
) -> list[Highlight]:
    """The best `count` non-overlapping clips of [min_duration, max_duration] seconds, best first (maybe fewer)."""
    words, sentences = transcript.words, transcript.sentences
    if count <= 0 or not words or not sentences:
        return []
    units = _units(words, sentences, max_duration)
    talk_end = max(signals.duration or 0.0, transcript.duration or 0.0, words[-1].end)
    cuts, silence_edges = sorted(signals.cuts), sorted(edge for silence in signals.silences for edge in silence)
    starts = [_start_edge(words, unit.first, (cuts, silence_edges)) for unit in units]
    ends = [_end_edge(words, unit.last, (cuts, silence_edges), talk_end) for unit in units]

    embeddings = embed_sentences([sentence.text for sentence in sentences])
    topics = topic_of_sentences(len(sentences), boundaries_from_embeddings(embeddings))
    scorer = _Scorer(transcript, signals, units, embeddings[[unit.sentence for unit in units]])

    candidates = []
    for i in range(len(units)):
        for j in range(i, len(units)):
            duration = ends[j] - starts[i]
            if duration > max_duration:
                break
            if duration >= min_duration:
                unit_topics = topics[[unit.sentence for unit in units[i : j + 1]]]
                candidates.append(scorer.score(i, j, starts[i], ends[j], unit_topics, min_duration, max_duration))
    return _choose(candidates, count)


def _units(words: list[Word], sentences: list[Sentence], max_duration: float) -> list[_Unit]:
    """Sentences as units; one longer than a clip may be is split at its longest pauses until its pieces fit."""
    units: list[_Unit] = []

    def split(first: int, last: int, sentence: int, starts: bool, ends: bool) -> None:
        if words[last].end - words[first].start <= max_duration or first == last:
            units.append(_Unit(first, last, sentence, starts, ends))
            return
        cut = max(range(first, last), key=lambda k: words[k + 1].start - words[k].end)
        split(first, cut, sentence, starts, False)
        split(cut + 1, last, sentence, False, ends)

    for index, sentence in enumerate(sentences):
        split(sentence.first, sentence.last, index, True, True)
    return units


def _snap(default: float, low: float, high: float, targets: tuple[list[float], ...]) -> float:
    """The cut, else the silence edge, nearest `default` within SNAP_TOLERANCE and inside [low, high]; else default."""
    low, high = max(low, default - SNAP_TOLERANCE), min(high, default + SNAP_TOLERANCE)
    for points in targets:  # sorted lists, best kind first
        near = points[bisect_left(points, low) : bisect_right(points, high)]
        if near:
            return min(near, key=lambda p: abs(p - default))
    return default


def _start_edge(words: list[Word], first: int, targets: tuple[list[float], ...]) -> float:
    """A start inside the pause before word `first`: after the previous word's end, at or before this word's start."""
    previous_end = words[first - 1].end if first else 0.0
    word_start = words[first].start
    default = max(word_start - LEAD_IN, (previous_end + word_start) / 2 if first else 0.0)
    return _snap(default, previous_end, word_start, targets)


def _end_edge(words: list[Word], last: int, targets: tuple[list[float], ...], talk_end: float) -> float:
    """An end inside the pause after word `last`: at or after its end, before the next word's start."""
    word_end = words[last].end
    next_start = words[last + 1].start if last + 1 < len(words) else talk_end
    default = min(word_end + TAIL, (word_end + next_start) / 2 if last + 1 < len(words) else talk_end)
    return _snap(default, word_end, next_start, targets)


def _is_question(text: str, punctuated: bool) -> bool:
    text = text.strip().lower()
    return text.endswith("?") or (not punctuated and bool(INTERROGATIVE.match(text)))


def _tokens(words: list[Word]) -> list[str]:
    return [re.sub(r"[^\w']", "", word.word.lower().replace("’", "'")) for word in words]


def _prefix(values) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.asarray(values, dtype=np.float64), axis=0)])


class _Scorer:
    """Features of a run of units in O(1) (O(dim) for coherence) from prefix sums over words, units and loudness."""

    def __init__(self, transcript: Transcript, signals: Signals, units: list[_Unit], embeddings: np.ndarray):
        self.transcript, self.units = transcript, units
        tokens = _tokens(transcript.words)
        filler = [
            1.0 if token in FILLERS or (token, tokens[k + 1] if k + 1 < len(tokens) else "") in FILLER_PAIRS else 0.0
            for k, token in enumerate(tokens)
        ]
        self.fillers = _prefix(filler)
        unit_texts = [" ".join(w.word for w in transcript.words[u.first : u.last + 1]) for u in units]
        asks = [_is_question(text, transcript.punctuated) for text in unit_texts]
        self.questions = _prefix([ask and u.ends_sentence for ask, u in zip(asks, units, strict=True)])
        self.hooks = [self._hook(u.first, text) for u, text in zip(units, unit_texts, strict=True)]
        self.embeddings = np.vstack([np.zeros((1, embeddings.shape[1])), np.cumsum(embeddings, axis=0)])

        # Speech only, gated as EBU R128 does: drop digital silence, then anything SPEECH_GATE below the mean.
        audible = [(t, v) for t, v in signals.loudness if math.isfinite(v) and v > SILENT_LUFS]
        gate = np.mean([v for _, v in audible]) - SPEECH_GATE if audible else 0.0
        speech = [(t, v) for t, v in audible if v >= gate]
        self.loud_times = [t for t, _ in speech]
        values = np.array([v for _, v in speech])
        self.loud_sum, self.loud_squares = _prefix(values), _prefix(values**2)
        self.talk_loudness = float(values.mean()) if len(values) else 0.0

    def _hook(self, first: int, first_text: str) -> tuple[float, str]:
        """Hook value and its description, from the words of the clip's first HOOK_SECONDS and its first sentence."""
        words = self.transcript.words
        limit = words[first].start + HOOK_SECONDS
        opening = " ".join(_tokens([w for w in words[first : first + 40] if w.start < limit]))
        question = _is_question(first_text, self.transcript.punctuated)
        phrase = HOOK_PHRASES.search(opening)
        number = NUMBER.search(opening)
        value = min(1.0, 0.6 * question + 0.6 * bool(phrase) + 0.3 * bool(number))
        if question:
            return value, "Opens with a question"
        if phrase:
            return value, f"Opens with a hook (“{phrase.group(0)}”)"
        return value, "Opens with a number" if number else ""

    def score(
        self,
        i: int,
        j: int,
        start: float,
        end: float,
        unit_topics: np.ndarray,
        min_duration: float,
        max_duration: float,
    ) -> _Candidate:
        """Units i…j as a clip from `start` to `end`; `unit_topics` holds the topic of each of its units."""
        first, last = self.units[i].first, self.units[j].last
        duration = end - start
        word_count = last - first + 1
        rate = word_count / duration
        lo, hi = bisect_left(self.loud_times, start), bisect_right(self.loud_times, end)
        samples = hi - lo
        mean = (self.loud_sum[hi] - self.loud_sum[lo]) / samples if samples else self.talk_loudness
        squares = (self.loud_squares[hi] - self.loud_squares[lo]) / samples if samples else mean**2
        spread = math.sqrt(max(0.0, squares - mean**2))
        questions = self.questions[j + 1] - self.questions[i]
        # Mean cosine of unit-length rows to their centroid is |Σ rows| / n.
        centroid = np.linalg.norm(self.embeddings[j + 1] - self.embeddings[i]) / (j - i + 1)
        one_topic = bool((unit_topics == unit_topics[0]).all())
        middle, half = (min_duration + max_duration) / 2, max((max_duration - min_duration) / 2, 1e-9)
        hook, hook_text = self.hooks[i]
        features = {
            "hook": hook,
            "questions": min(1.0, questions / 2),
            "pace": max(0.0, 1 - abs(rate - PACE_BEST) / PACE_SPAN),
            "loudness": min(1.0, max(0.0, 0.5 + (mean - self.talk_loudness) / (2 * LOUDNESS_SPAN))),
            "energy": min(1.0, spread / ENERGY_FULL),
            "completeness": 0.5 * self.units[i].starts_sentence + 0.5 * self.units[j].ends_sentence,
            "coherence": 0.5 * one_topic + 0.5 * float(min(1.0, max(0.0, centroid))),
            "duration": 1 - 0.5 * min(1.0, abs(duration - middle) / half),
            "fillers": min(1.0, (self.fillers[last + 1] - self.fillers[first]) / word_count / FILLER_SATURATION),
        }
        features = {name: round(float(value), 4) for name, value in features.items()}
        words = self.transcript.words[first : last + 1]
        return _Candidate(
            Highlight(
                start=round(start, 3),
                end=round(end, 3),
                score=round(min(100.0, max(0.0, sum(WEIGHTS[f] * v for f, v in features.items()))), 2),
                reason="",
                features=features,
                text=" ".join(w.word for w in words),
                first_word=first,
                last_word=last,
                topic=int(np.bincount(unit_topics).argmax()),
            ),
            {
                "hook": hook_text,
                "rate": rate,
                "loudness": mean - self.talk_loudness,
                "questions": questions,
                "one_topic": one_topic,
                "duration": duration,
            },
        )


def _reason(features: dict[str, float], facts: dict) -> str:
    """Human text naming the (up to) three features that added the most points, among those at 0.5 or more."""
    phrases = {
        "hook": facts["hook"],
        "questions": f"asks {facts['questions']:.0f} question{'s' if facts['questions'] != 1 else ''}",
        "pace": f"lively delivery ({facts['rate']:.1f} words/s)",
        "loudness": f"louder than the talk ({facts['loudness']:+.1f} LU)",
        "energy": "varied, energetic voice",
        "completeness": "complete sentences",
        "coherence": "one complete topic" if facts["one_topic"] else "stays on one idea",
        "duration": f"good length ({facts['duration']:.0f} s)",
    }
    gains = sorted(
        (WEIGHTS[name] * value, name) for name, value in features.items() if WEIGHTS[name] > 0 and value >= 0.5
    )
    top = [phrases[name] for _, name in reversed(gains[-3:])]
    if features["fillers"] >= 0.5:
        top.append("many filler words")
    text = "; ".join(top) or "Best available segment"
    return text[0].upper() + text[1:]


def _choose(candidates: list[_Candidate], count: int) -> list[Highlight]:
    """Greedy by score, skipping overlaps; a topic already covered costs TOPIC_REPEAT_PENALTY in the comparison."""
    chosen: list[Highlight] = []
    remaining = sorted(candidates, key=lambda c: -c.highlight.score)
    while remaining and len(chosen) < count:
        covered = {h.topic for h in chosen}
        best = max(remaining, key=lambda c: c.highlight.score - TOPIC_REPEAT_PENALTY * (c.highlight.topic in covered))
        clip = best.highlight
        clip.reason = _reason(clip.features, best.facts)
        chosen.append(clip)
        remaining = [c for c in remaining if c.highlight.end <= clip.start or c.highlight.start >= clip.end]
    return sorted(chosen, key=lambda h: -h.score)
