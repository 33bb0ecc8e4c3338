"""Highlight clips from a 10-minute 1080p talk: the time of each stage of the `highlights` job and its real-time
factor on this machine, with the stages' floors measured side by side in the same run.

The talk (made once, cached under var/bench/highlights/): flite reads a script of a dozen topics for 10 minutes,
over a 1920x1080 30 fps picture of skimage's astronaut face drifting across a test pattern; every 50 s the
pattern turns negative and the face jumps (hard cuts). H.264 + AAC.

  job        the `highlights` job through Django in-process (a temp data dir and SQLite, the talk uploaded
             untimed), count 3, 15-60 s, 9:16 at 1080p, bold captions, run inline as a worker runs it; the
             job's own stage timings (result.timings) and its wall time
  decode     the floor of the analysis pass: `ffmpeg -i talk.mp4 -f null -` (every frame and sample decoded)
  sphinx-1   the floor-free naive transcription: one pocketsphinx Decoder over the whole 16 kHz WAV in one
             process, against the job's parallel, VAD-split decoding

Exits non-zero when the job takes more than half the talk's duration (the target: a 10-minute input in under
5 minutes with pocketsphinx on 2 cores).

Run it with `.venv/bin/python bench/highlights.py [--minutes 10] [--keep]`.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench" / "highlights"
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error"]
TARGET_RTF = 0.5
CLIPS = {"count": 3, "min_duration": 15, "max_duration": 60, "aspect_ratio": "9:16", "captions": {"style": "bold"}}
TOPICS = [
    "Why do we drink coffee every morning? Coffee beans grow on small trees in warm places. The beans are roasted "
    "before we brew them. A dark roast tastes bitter and strong. Fresh water makes a better cup.",
    "Now let us talk about bicycles. A bicycle has two wheels and a chain. Riding to work is good for your health. "
    "Check the tire pressure every week. A good lock keeps your bicycle safe.",
    "Here is the secret of the ocean. The ocean covers most of the planet. Whales and dolphins live in the deep "
    "water. Rivers carry minerals into the sea. That is why the ocean is salty.",
    "How do you grow tomatoes at home? Tomatoes need sun for most of the day. Water them deeply but not too often. "
    "A stake keeps the plant standing. Pick the fruit when it is red and soft.",
    "Let me tell you about sleep. Adults need seven to nine hours every night. A dark and cool room helps you fall "
    "asleep. Screens before bed keep the brain awake. A regular bedtime makes mornings easier.",
    "What makes a good story? Every story needs a person we care about. That person wants something badly. "
    "Something stands in the way. The ending should surprise us and still feel right.",
    "Three tips for saving money. First, write down everything you spend for a month. Second, cook at home more "
    "often. Third, move a little money to savings on every payday.",
    "The moon is our closest neighbour in space. It has no air and no weather. The same side always faces the "
    "earth. Its pull on the oceans makes the tides rise and fall twice a day.",
    "Why should you learn to cook? Cooking saves money and it is healthier. You choose what goes into your food. "
    "Start with simple dishes like eggs, rice and soup. Soon you will cook for friends.",
    "Here is the thing about running. Start slowly and run a little every other day. Good shoes protect your "
    "knees. Breathe through your nose and mouth. After a month a long run feels easy.",
    "Bees are tiny but important. They carry pollen from flower to flower. Without them many fruits would not "
    "grow. A single hive can hold fifty thousand bees. Plant flowers to help them.",
    "Finally, a word about music. Music changes how we feel. A fast song gives us energy. A slow song helps us "
    "rest. Learning an instrument trains both hands and the mind.",
]


def ffmpeg(*args) -> None:
    subprocess.run([*FFMPEG, *map(str, args)], check=True)


def make_talk(minutes: float) -> tuple[Path, Path]:
    """The talk and its speech as a 16 kHz mono WAV (for the naive transcription), cached."""
    seconds = round(minutes * 60)
    folder = CACHE / f"{seconds}s"
    talk, speech = folder / "talk.mp4", folder / "speech.wav"
    if talk.exists() and speech.exists():
        return talk, speech
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "script.txt"
    text, length = [], 0
    while length < seconds * 2.6:  # flite speaks about 2.6 words per second
        for topic in TOPICS:
            text.append(topic)
            length += len(topic.split())
    script.write_text("\n\n".join(text), encoding="utf-8")
    ffmpeg("-f", "lavfi", "-i", f"flite=textfile={script}:voice=slt", "-af", f"apad,atrim=end={seconds}",
           "-ar", 16000, "-ac", 1, speech)  # fmt: skip
    from skimage import data

    face = folder / "face.png"
    import numpy as np

    patch = np.ascontiguousarray(data.astronaut()[20:200, 130:290])
    subprocess.run(
        [*FFMPEG, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "160x180", "-i", "pipe:0", "-vf", "scale=480:540",
         str(face)], input=patch.tobytes(), check=True,
    )  # fmt: skip
    place = "if(lt(mod(t,100),50),500+260*sin(t/9),1250)"
    graph = (
        f"[0:v]negate=enable='mod(floor(t/50),2)'[bg];[bg][1:v]overlay=x='{place}':y=260:shortest=1,format=yuv420p[v]"
    )
    ffmpeg(
        *["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}"],
        *["-loop", 1, "-framerate", 30, "-i", face, "-i", speech],
        *["-filter_complex", graph, "-map", "[v]", "-map", "2:a", "-t", seconds],
        *["-c:v", "libx264", "-preset", "ultrafast", "-crf", 26, "-g", 60, "-c:a", "aac", "-b:a", "96k", talk],
    )
    return talk, speech


def time_decode(talk: Path) -> float:
    began = time.monotonic()
    ffmpeg("-i", talk, "-f", "null", "-")
    return time.monotonic() - began


def time_naive_sphinx(speech: Path) -> tuple[float, int]:
    """One Decoder over the whole file in this process: the plain way to call pocketsphinx."""
    from pocketsphinx import Decoder

    began = time.monotonic()
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    with wave.open(str(speech), "rb") as audio:
        pcm = audio.readframes(audio.getnframes())
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    words = sum(1 for segment in decoder.seg() if not segment.word.startswith(("<", "[")))
    return time.monotonic() - began, words


def run_job(talk: Path, data_dir: Path) -> tuple[dict, float]:
    """The highlights job through Django in-process, as a worker runs it: (job JSON, wall seconds)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "mediahub.settings"
    os.environ["MEDIAHUB_DATA_DIR"] = str(data_dir)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django_q.conf import Conf

    from compositions.services import clips_submit
    from jobs.serializers import job_payload
    from jobs.services.assets import asset_upload

    call_command("migrate", verbosity=0)
    Conf.SYNC = True
    user = get_user_model().objects.create_user("bench")
    uploads = data_dir / "uploads"
    uploads.mkdir()
    asset, _ = asset_upload(owner=user, path=Path(shutil.copy(talk, uploads)), name="talk.mp4")
    began = time.monotonic()
    job, _ = clips_submit(owner=user, asset_id=asset.id, params=CLIPS)
    took = time.monotonic() - began
    job.refresh_from_db()
    return job_payload(job), took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the job's data dir")
    options = parser.parse_args()
    talk, speech = make_talk(options.minutes)
    duration = options.minutes * 60
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, {talk} ({duration:.0f} s)")

    data_dir = Path(tempfile.mkdtemp(prefix="mediahub-bench-highlights-"))
    try:
        job, wall = run_job(talk, data_dir)
    finally:
        if not options.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    if job["status"] != "succeeded":
        print(f"the job {job['status']}: {job['error']}")
        return 1
    decode = time_decode(talk)
    naive, naive_words = time_naive_sphinx(speech)

    result, timings = job["result"], job["result"]["timings"]
    print(f"\n{'stage':<14}{'seconds':>9}{'x real time':>13}")
    for stage, seconds in timings.items():
        print(f"{stage:<14}{seconds:>9.1f}{seconds / duration:>13.3f}")
    print(f"{'whole job':<14}{wall:>9.1f}{wall / duration:>13.3f}")
    print("\nside by side")
    print(f"  analysis pass {timings['analyzing']:.1f} s vs a bare full decode {decode:.1f} s: "
          f"{timings['analyzing'] / decode:.2f}x")  # fmt: skip
    print(f"  transcription {timings['transcribing']:.1f} s ({result['words']} words) vs one pocketsphinx Decoder "
          f"{naive:.1f} s ({naive_words} words): {naive / timings['transcribing']:.2f}x faster")  # fmt: skip
    print("\nclips")
    for clip in result["clips"]:
        print(f"  {clip['start']:7.1f}-{clip['end']:7.1f} s  score {clip['score']:5.1f}  {clip['layout']:<6} "
              f"{clip['reason']}")  # fmt: skip
    rtf = wall / duration
    verdict = "met" if rtf <= TARGET_RTF else "MISSED"
    print(f"\nreal-time factor {rtf:.3f} (target <= {TARGET_RTF}): {verdict}")
    return 0 if rtf <= TARGET_RTF else 1


if __name__ == "__main__":
    sys.exit(main())
