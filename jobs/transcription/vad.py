"""Speech stretches of a 16 kHz mono WAV (pocketsphinx's Endpointer, a WebRTC-style VAD), grouped into chunks
that decoders work on in parallel."""

import wave
from pathlib import Path

import numpy as np

from jobs.ffmpeg.errors import MediaError

SAMPLE_RATE = 16000
# One decoder utterance at most this long: a talk without pauses is cut at its quietest frame past MIN_CUT.
MAX_SEGMENT_SECONDS = 30.0
MIN_CUT_SECONDS = 20.0

Span = tuple[float, float]


def read_wav(wav: Path) -> wave.Wave_read:
    """The WAV opened, or a MediaError when it is not the 16 kHz mono 16-bit PCM the decoders take."""
    try:
        audio = wave.open(str(wav), "rb")  # noqa: SIM115 (the caller closes it)
    except (wave.Error, EOFError, OSError) as exc:
        raise MediaError("unusable_audio", f"The audio is not a readable WAV file ({exc}).") from None
    if (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) != (SAMPLE_RATE, 1, 2):
        audio.close()
        raise MediaError("unusable_audio", "Transcription needs 16 kHz mono 16-bit PCM audio.")
    return audio


def wav_duration(wav: Path) -> float:
    with read_wav(wav) as audio:
        return audio.getnframes() / SAMPLE_RATE


def speech_segments(wav: Path) -> list[Span]:
    """(start, end) seconds of each speech stretch. pocketsphinx's own Segmenter drops a last stretch still open
    when the file's length is an exact multiple of the frame size (it only ends the stream on a short read, and
    end_stream refuses an empty frame), so a stretch open at the end of the file is closed here at that end."""
    from pocketsphinx import Endpointer

    endpointer = Endpointer(sample_rate=SAMPLE_RATE)
    size = endpointer.frame_bytes
    segments: list[Span] = []
    levels: list[float] = []  # each frame's RMS, to cut overlong stretches where it is quietest
    with read_wav(wav) as audio:
        duration = audio.getnframes() / SAMPLE_RATE
        while len(frame := audio.readframes(size // 2)) == size:
            levels.append(float(np.sqrt(np.mean(np.frombuffer(frame, dtype=np.int16).astype(np.float32) ** 2))))
            if endpointer.process(frame) is not None and not endpointer.in_speech:
                segments.append((endpointer.speech_start, endpointer.speech_end))
    if endpointer.in_speech:
        segments.append((endpointer.speech_start, duration))
    frame_seconds = endpointer.frame_length
    return [part for segment in segments for part in split_long(segment, levels, frame_seconds)]


def split_long(segment: Span, levels: list[float], frame_seconds: float) -> list[Span]:
    start, end = segment
    parts = []
    while end - start > MAX_SEGMENT_SECONDS:
        first = int((start + MIN_CUT_SECONDS) / frame_seconds)
        last = int((start + MAX_SEGMENT_SECONDS) / frame_seconds)
        window = levels[first:last]
        cut = (first + int(np.argmin(window))) * frame_seconds if window else start + MAX_SEGMENT_SECONDS
        parts.append((start, cut))
        start = cut
    parts.append((start, end))
    return parts


def chunks(segments: list[Span], max_seconds: float) -> list[list[Span]]:
    """Consecutive segments grouped while a group spans at most `max_seconds` (a longer segment stays alone)."""
    groups: list[list[Span]] = []
    for segment in segments:
        if groups and segment[1] - groups[-1][0][0] <= max_seconds:
            groups[-1].append(segment)
        else:
            groups.append([segment])
    return groups
