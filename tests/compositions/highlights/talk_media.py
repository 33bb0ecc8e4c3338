"""A short "talk" for the highlight pipeline: flite speaks a three-topic script, sentence by sentence with known
pauses, over a video of the astronaut's face that drifts across the frame and jumps at a hard cut."""

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.compositions.highlights.face_media import Actor, Scene, write_video
from tests.media import ffmpeg

RATE = 16000
LOUD = 500  # of 32767: quieter samples at a sentence's ends are not its voice
SENTENCE_PAUSE = 0.6
TOPIC_PAUSE = 1.2
TOPICS = [
    [
        "Why does coffee taste so good in the morning?",
        "Coffee beans grow on small trees in warm places.",
        "The beans are roasted before we brew them.",
        "A dark roast tastes bitter and strong.",
        "Fresh water makes a better cup of coffee.",
    ],
    [
        "Now let us talk about bicycles.",
        "A bicycle has two wheels and a chain.",
        "Riding a bicycle to work is good for your health.",
        "Check the tire pressure every week.",
        "A good lock keeps your bicycle safe.",
    ],
    [
        "Finally we talk about the ocean.",
        "The ocean covers most of the planet.",
        "Whales and dolphins live in the deep water.",
        "Rivers carry minerals into the sea.",
        "That is why the ocean is salty.",
    ],
]


@dataclass
class Talk:
    path: Path
    duration: float
    sentences: list[tuple[float, float, str, int]]  # (start, end, text, topic) of the speech in the file
    cut: float  # the hard cut, seconds


def _voice(text: str, path: Path) -> bytes:
    script = path.with_suffix(".txt")
    script.write_text(text, encoding="utf-8")
    ffmpeg("-f", "lavfi", "-i", f"flite=textfile={script}:voice=slt", "-ar", str(RATE), "-ac", "1", str(path))
    with wave.open(str(path), "rb") as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples) > LOUD)  # flite leads in and out with near-silence: cut it off
    return samples[loud[0] : loud[-1] + 1].tobytes()


def make_talk(folder: Path) -> Talk:
    folder.mkdir(parents=True, exist_ok=True)
    pcm, sentences, now = bytearray(), [], 0.5
    pcm += bytes(int(0.5 * RATE) * 2)
    for topic, texts in enumerate(TOPICS):
        for index, text in enumerate(texts):
            voice = _voice(text, folder / f"s{topic}-{index}.wav")
            seconds = len(voice) / 2 / RATE
            sentences.append((now, now + seconds, text, topic))
            pause = TOPIC_PAUSE if index == len(texts) - 1 else SENTENCE_PAUSE
            pcm += voice + bytes(int(pause * RATE) * 2)
            now += seconds + pause
    speech = folder / "speech.wav"
    with wave.open(str(speech), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(pcm))
    duration = len(pcm) / 2 / RATE
    cut = round(sentences[len(TOPICS[0])][0] - 0.8, 2)  # in the pause before the second topic

    def actors(t: float) -> list[Actor]:
        if t >= cut:
            return [Actor(470, 170, talking=True)]
        return [Actor(180 + 120 * min(1.0, t / 8), 180, talking=True)]  # drifts right over the first 8 s

    picture = write_video(folder / "picture.mp4", Scene(duration, actors, cuts=(cut,)))
    talk = folder / "talk.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-i", str(picture), "-i", str(speech)]
        + ["-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest", str(talk)],
        check=True,
    )
    return Talk(talk, duration, sentences, cut)
