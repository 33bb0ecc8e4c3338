"""One pocketsphinx decoder in its own process (`python -m jobs.transcription.sphinx_worker WAV`).

pocketsphinx holds the GIL while it decodes and django-q2 workers may not fork children, so the parent starts a
few of these plain processes to use every core. Protocol: one JSON task a line on stdin, `{"segments": [[start,
end], …]}` (seconds) and, to align known text instead of recognising it, `"text": "words …"`; one JSON line back
per task, `{"words": [[word, start, end, confidence], …]}` or `{"error": "…"}`, with `{"progress": f}` lines
(0–1 of the task) after each segment. No Django here: it starts in a third of a second."""

import json
import re
import sys
import wave

FRAMES_PER_SECOND = 100  # pocketsphinx's segment times are 10 ms frames
SAMPLE_RATE = 16000
# Pronunciation variants (`to(2)`) and fillers the decoder emits that are not words of the speech.
_VARIANT = re.compile(r"\(\d+\)$")
_FILLER = re.compile(r"^(?:<.*>|\[.*\]|\+\+.*\+\+)$")


def clean_word(token: str) -> str | None:
    """A decoder token as a word: `to(2)` → `to`; `<s>`, `</s>`, `<sil>`, `[NOISE]`, `++UH++` → None."""
    if _FILLER.match(token):
        return None
    return _VARIANT.sub("", token) or None


def segment_words(segments, offset: float) -> list[list]:
    """[word, start, end, confidence] in seconds from the start of the file; `offset` is the utterance's start."""
    words = []
    for seg in segments:
        word = clean_word(seg.word)
        if word is None:
            continue
        start = offset + seg.start_frame / FRAMES_PER_SECOND
        end = offset + (seg.end_frame + 1) / FRAMES_PER_SECOND
        words.append([word, round(start, 3), round(end, 3), round(min(1.0, max(0.0, seg.prob)), 3)])
    return words


def decode(decoder, audio, start: float, end: float) -> list:
    """One utterance: the samples between `start` and `end`, given whole (full_utt: cepstral mean normalisation
    over the utterance; fed in pieces, its running estimate garbles the first words)."""
    audio.setpos(int(start * SAMPLE_RATE))
    pcm = audio.readframes(int((end - start) * SAMPLE_RATE))
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return segment_words(decoder.seg(), start)


def run_task(decoder, audio, task: dict, send) -> dict:
    segments = task["segments"]
    total = sum(end - start for start, end in segments) or 1.0
    done, words = 0.0, []
    text = task.get("text")
    if text is not None:
        try:
            decoder.set_align_text(text)
        except RuntimeError as exc:  # a word missing from the dictionary
            return {"error": f"cannot align: {exc}"}
    for start, end in segments:
        words += decode(decoder, audio, start, end)
        done += end - start
        send({"progress": round(done / total, 3)})
    if text is not None and [w[0] for w in words] != text.split():
        return {"error": "the alignment did not cover the text"}
    return {"words": words}


def main(wav: str) -> None:
    from pocketsphinx import Decoder

    def send(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    with wave.open(wav, "rb") as audio:
        for line in sys.stdin:
            send(run_task(decoder, audio, json.loads(line), send))


if __name__ == "__main__":
    main(sys.argv[1])
