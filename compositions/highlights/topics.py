"""Sentence embeddings and topic boundaries (TextTiling on embeddings), so highlight clips can stay on one topic."""

import functools
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Depth of a similarity valley (cosine units, per embedder) below which no boundary is drawn whatever the talk's
# statistics: it keeps a one-topic talk in one piece. Measured on scripted talks: with wordllama, valleys inside
# one topic reach 0.40 and real topic changes 0.64–1.08; TF-IDF valleys are shallower (0.15–0.34 at changes).
MIN_DEPTH = {"wordllama": 0.45, "tfidf": 0.10}
# A valley is a boundary when its depth exceeds mean + DEPTH_STD · std of all valley depths (TextTiling's
# liberal cut is mean − std/2; ours is stricter because embeddings are noisier than word counts).
DEPTH_STD = 0.5
# No topic shorter than this many sentences: single off-topic remarks are not topics.
MIN_TOPIC_SENTENCES = 3
# TF-IDF terms are words cut to this many letters: a cheap stemmer (roast/roasted, reef/reefs).
STEM = 5


@functools.cache
def _load_wordllama():
    """The shipped wordllama model, or None when it cannot load (the caller falls back to TF-IDF)."""
    try:
        import wordllama
        from wordllama import WordLlama

        # cache_dir points at the package itself: the default path looks for the tokenizer elsewhere and downloads.
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except Exception:
        logger.warning("wordllama could not load; topic boundaries use TF-IDF", exc_info=True)
        return None


def embedder_name() -> str:
    """Which embedder `embed_sentences` uses in this process: "wordllama" or "tfidf"."""
    return "wordllama" if _load_wordllama() is not None else "tfidf"


def embed_sentences(texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised row per text: wordllama embeddings, or TF-IDF rows when the model is unavailable."""
    texts = [text or "" for text in texts]
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    model = _load_wordllama()
    if model is not None:
        rows = np.asarray(model.embed(texts), dtype=np.float32)
        # Normalised here, not by wordllama: an empty text embeds to zeros, and its own norm=True makes that NaN.
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return _tfidf(texts)


def _stems(text: str) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [word[:STEM] for word in re.findall(r"[a-z0-9']{3,}", text.lower()) if word not in ENGLISH_STOP_WORDS]


def _tfidf(texts: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        matrix = TfidfVectorizer(analyzer=_stems, sublinear_tf=True).fit_transform(texts)
    except ValueError:  # nothing but stop words: no vocabulary, so no topic signal either
        return np.zeros((len(texts), 1), dtype=np.float32)
    return matrix.toarray().astype(np.float32)  # rows are already L2-normalised


def window_size(count: int) -> int:
    """Sentences per TextTiling block: about √n·⅔, so short talks keep resolution and long ones average noise."""
    return max(2, min(6, round(math.sqrt(count) * 2 / 3)))


def gap_similarities(embeddings: np.ndarray, window: int) -> np.ndarray:
    """Cosine similarity across each gap g (before sentence g, g = 1…n−1) between the blocks either side of it."""
    count = len(embeddings)
    prefix = np.vstack([np.zeros((1, embeddings.shape[1]), dtype=np.float64), np.cumsum(embeddings, axis=0)])
    gaps = np.arange(1, count)
    left = prefix[gaps] - prefix[np.maximum(gaps - window, 0)]
    right = prefix[np.minimum(gaps + window, count)] - prefix[gaps]
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    return np.where(norms > 0, (left * right).sum(axis=1) / np.maximum(norms, 1e-12), 0.0)


def depth_scores(similarities: np.ndarray) -> np.ndarray:
    """TextTiling depth: how far each gap's similarity lies below the peaks reached climbing left and right."""
    depths = np.zeros(len(similarities))
    for index, value in enumerate(similarities):
        left = index
        while left > 0 and similarities[left - 1] >= similarities[left]:
            left -= 1
        right = index
        while right < len(similarities) - 1 and similarities[right + 1] >= similarities[right]:
            right += 1
        depths[index] = similarities[left] + similarities[right] - 2 * value
    # A flat valley (blocks sharing no words at all, common with TF-IDF) counts once, at its middle.
    runs = np.flatnonzero(np.diff(np.r_[np.nan, similarities]) != 0)
    for start, stop in zip(runs, np.r_[runs[1:], len(similarities)], strict=True):
        if stop - start > 1:
            keep = depths[(start + stop - 1) // 2]
            depths[start:stop] = 0
            depths[(start + stop - 1) // 2] = keep
    return depths


def topic_boundaries(texts: Sequence[str], *, max_topics: int | None = None) -> list[int]:
    """Indices of the sentences that start a new topic (never 0), sorted."""
    if len(texts) < 2 * MIN_TOPIC_SENTENCES or max_topics == 1:
        return []
    return boundaries_from_embeddings(embed_sentences(texts), max_topics=max_topics)


def boundaries_from_embeddings(embeddings: np.ndarray, *, max_topics: int | None = None) -> list[int]:
    """`topic_boundaries` for rows from `embed_sentences`, for callers that need the embeddings too."""
    count = len(embeddings)
    if count < 2 * MIN_TOPIC_SENTENCES or max_topics == 1:
        return []
    depths = depth_scores(gap_similarities(embeddings, window_size(count)))
    valleys = depths[depths > 0]
    if not len(valleys):
        return []
    threshold = max(MIN_DEPTH[embedder_name()], valleys.mean() + DEPTH_STD * valleys.std())
    chosen: list[int] = []
    for gap in np.argsort(-depths, kind="stable"):  # deepest valleys first
        boundary = int(gap) + 1  # gap g-1 lies before sentence g
        if depths[gap] < threshold or (max_topics is not None and len(chosen) >= max_topics - 1):
            break
        if MIN_TOPIC_SENTENCES <= boundary <= count - MIN_TOPIC_SENTENCES and all(
            abs(boundary - other) >= MIN_TOPIC_SENTENCES for other in chosen
        ):
            chosen.append(boundary)
    return sorted(chosen)


def topic_of_sentences(count: int, boundaries: Sequence[int]) -> np.ndarray:
    """The topic number (0, 1, …) of each of `count` sentences, given the boundaries from `topic_boundaries`."""
    return np.searchsorted(np.asarray(boundaries, dtype=int), np.arange(count), side="right")
