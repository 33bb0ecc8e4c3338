"""A transcript: words with times and confidences, grouped into sentences; what every engine returns and what
the `transcribe` job stores in its result."""

import re
from dataclasses import dataclass, field

# A pause this long between two words ends a sentence when the engine gives no punctuation (pocketsphinx).
SENTENCE_PAUSE = 0.45
# Engines without punctuation: a sentence also ends after this many seconds (a run-on talk still gets cues).
MAX_SENTENCE_SECONDS = 12.0
_END = re.compile(r"[.!?…]['\")\]]*$")


def ends_sentence(text: str) -> bool:
    """Whether a word ends with sentence-final punctuation (a closing quote or bracket may follow it)."""
    return bool(_END.search(text))


@dataclass
class Word:
    word: str
    start: float
    end: float
    confidence: float = 1.0


@dataclass
class Sentence:
    start: float
    end: float
    text: str
    first: int  # index of its first word in Transcript.words
    last: int  # index of its last word (inclusive)


@dataclass
class Transcript:
    words: list[Word]
    language: str = "en"
    engine: str = ""
    duration: float | None = None
    punctuated: bool = False  # the engine gives punctuation: sentences end at it, not at pauses
    sentences: list[Sentence] = field(init=False)

    def __post_init__(self):
        self.sentences = split_sentences(self.words, punctuated=self.punctuated)

    @property
    def text(self) -> str:
        return " ".join(sentence.text for sentence in self.sentences)

    def to_result(self) -> dict:
        """The job's `result` (rounded to milliseconds)."""
        return {
            "engine": self.engine,
            "language": self.language,
            "duration": round(self.duration, 3) if self.duration is not None else None,
            "text": self.text,
            "words": [
                {
                    "word": w.word,
                    "start": round(w.start, 3),
                    "end": round(w.end, 3),
                    "confidence": round(w.confidence, 3),
                }
                for w in self.words
            ],
            "sentences": [
                {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "first": s.first, "last": s.last}
                for s in self.sentences
            ],
        }


def split_sentences(words: list[Word], *, punctuated: bool) -> list[Sentence]:
    """Sentences from punctuation when the engine gives it, otherwise from pauses (and a length cap)."""
    sentences: list[Sentence] = []
    first = 0
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else None
        if following is None:
            ends = True
        elif punctuated:
            ends = ends_sentence(word.word)
        else:
            pause = following.start - word.end
            ends = pause >= SENTENCE_PAUSE or following.end - words[first].start > MAX_SENTENCE_SECONDS
        if ends:
            chunk = words[first : index + 1]
            text = " ".join(w.word for w in chunk)
            sentences.append(Sentence(chunk[0].start, chunk[-1].end, text, first, index))
            first = index + 1
    return sentences
