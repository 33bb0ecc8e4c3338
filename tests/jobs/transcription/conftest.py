"""Speech made with FFmpeg's flite voice: each sentence spoken alone and joined with known silences, so every
sentence's true start is known (the join's offset plus where the voice's own output turns loud)."""

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.media import ffmpeg
from tests.workers import live_processes

SCRIPT = (
    "the quick brown fox jumps over the lazy dog",
    "we want to go to the market today",
    "please call stella and ask her to bring these things with her from the store",
    "the weather was cold and windy all week",
    "the children played in the park after school",
    "our team will meet again next monday morning",
)
LEAD, GAPS, TAIL = 0.8, (1.0, 1.2, 0.9, 1.1, 1.0), 0.6  # seconds of silence before, between and after
RATE = 16000
LOUD = 500  # a sample above this (of 32767) is the voice, not flite's own quiet lead-in


@dataclass
class Speech:
    wav: Path  # 16 kHz mono PCM, as transcribe_audio takes it
    mp4: Path  # the same speech as the AAC track of a small video
    starts: list[float]  # when each sentence of SCRIPT starts to sound
    duration: float

    @property
    def text(self) -> str:
        return " ".join(SCRIPT)


def say(text: str, path: Path) -> bytes:
    script = path.with_suffix(".txt")
    script.write_text(text + "\n")
    ffmpeg("-f", "lavfi", "-i", f"flite=textfile={script}:voice=slt", "-ar", str(RATE), "-ac", "1", str(path))
    with wave.open(str(path), "rb") as audio:
        return audio.readframes(audio.getnframes())


def silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * RATE))


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return path


@pytest.fixture(scope="session")
def speech(media_dir) -> Speech:
    folder = media_dir / "speech"
    folder.mkdir(exist_ok=True)
    pcm, starts, at = [silence(LEAD)], [], LEAD
    for index, sentence in enumerate(SCRIPT):
        spoken = say(sentence, folder / f"sentence-{index}.wav")
        samples = np.abs(np.frombuffer(spoken, dtype=np.int16))
        starts.append(at + int(np.argmax(samples > LOUD)) / RATE)
        gap = GAPS[index] if index < len(GAPS) else TAIL
        pcm += [spoken, silence(gap)]
        at += len(spoken) / 2 / RATE + gap
    wav = write_wav(folder / "speech.wav", b"".join(pcm))
    mp4 = folder / "speech.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", f"color=c=navy:s=160x120:rate=10:d={at}", "-i", str(wav)),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(mp4)),
    )
    return Speech(wav=wav, mp4=mp4, starts=starts, duration=at)


def worker_processes(marker: str) -> list[int]:
    """Pids of live processes whose command line names `marker` (a decoder worker and the WAV it reads)."""
    return live_processes(marker)
