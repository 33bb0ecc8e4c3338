"""faster-whisper in its own process (`python -m jobs.transcription.whisper_worker WAV MODEL_DIR`), so a cancel
can kill it; same JSON-lines protocol as sphinx_worker, one task `{"language": "en"}`."""

import json
import sys


def main(wav: str, model_dir: str) -> None:
    from faster_whisper import WhisperModel

    def send(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    # local_files_only: a directory that is not a model fails here instead of reaching for the network.
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", local_files_only=True)
    for line in sys.stdin:
        task = json.loads(line)
        try:
            segments, info = model.transcribe(wav, language=task["language"], word_timestamps=True)
        except ValueError as exc:  # a language the model does not know
            send({"error": str(exc), "code": "language_not_supported"})
            continue
        words = []
        for segment in segments:  # a generator: decoding happens while it is read
            words += [[w.word.strip(), w.start, w.end, w.probability] for w in segment.words or [] if w.word.strip()]
            send({"progress": round(min(1.0, segment.end / (info.duration or 1.0)), 3)})
        send({"words": words})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
