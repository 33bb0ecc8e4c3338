"""The audio mix on real renders, measured with FFmpeg's volumedetect and ebur128: music level, looping and
cutting, fades, the clips' own audio level, ducking under a voice-over, and loudness normalisation.

The picture is a silent clip throughout, so everything heard comes from the mix being tested."""

import math
import re
import subprocess
from pathlib import Path

import pytest

from tests.compositions.helpers import audio_duration, mean_volume, render, video_duration
from tests.media import ffmpeg, make_clip

FAST = {"resolution": "360p", "quality": "low", "fps": 25}
MUSIC_BAND = "lowpass=f=700,lowpass=f=700,lowpass=f=700"  # keeps a 300 Hz tone, drops a 3 kHz one by ~60 dB
VOICE_BAND = "highpass=f=1500,highpass=f=1500,highpass=f=1500"


def make_wav(path: Path, *, seconds: float, frequency: int = 440, amplitude: float = 0.5) -> Path:
    ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc='{amplitude}*sin(2*PI*{frequency}*t)':s=48000:c=stereo:d={seconds}",
        "-c:a", "pcm_s16le", str(path),
    )  # fmt: skip
    return path


def integrated_loudness(path: Path) -> float:
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-af", "ebur128", "-vn", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))


@pytest.fixture(scope="session")
def silent_five_path(media_dir) -> Path:
    return make_clip(media_dir / "silent-five.mp4", seconds=5, audio=False)


@pytest.fixture
def silent(alice_api, upload, silent_five_path) -> dict:
    return upload(alice_api, silent_five_path)


@pytest.fixture
def tone(alice_api, upload, media_dir) -> dict:
    """6 s of a 440 Hz tone at half scale (-9 dB mean)."""
    path = media_dir / "tone-6s.wav"
    return upload(alice_api, path if path.exists() else make_wav(path, seconds=6))


@pytest.fixture
def mix(alice_api, silent, fetch_output, django_capture_on_commit_callbacks):
    """mix(seconds, audio) → the render of `seconds` of the silent clip with `audio` as the spec's audio."""

    def _mix(seconds: float, audio: dict) -> Path:
        body = {"clips": [{"asset": silent["id"], "end_time": seconds}], "audio": audio, "output": FAST}
        return render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)

    return _mix


def test_music_volume_scales_the_music(mix, tone):
    """music_volume 0.3 is 20·log10(0.3) = -10.46 dB against the same music at 1."""
    unity = mean_volume(mix(2, {"music_asset": tone["id"], "music_volume": 1}), 0.2, 1.8)
    quiet = mean_volume(mix(2, {"music_asset": tone["id"], "music_volume": 0.3}), 0.2, 1.8)
    assert -11 < unity < -7  # the tone's own level: nothing else scaled it
    assert abs((quiet - unity) - 20 * math.log10(0.3)) <= 0.5, (unity, quiet)


def test_short_music_loops_to_the_end_and_is_cut_there(mix, alice_api, upload, media_dir):
    short = upload(alice_api, make_wav(media_dir / "tone-1.5s.wav", seconds=1.5))
    looped = mix(4, {"music_asset": short["id"]})
    assert abs(audio_duration(looped) - 4) <= 0.08 and abs(video_duration(looped) - 4) <= 0.04
    for start in (0.2, 1.7, 3.2):  # in the first, second and third pass of the music
        assert mean_volume(looped, start, start + 0.6) > -12, start
    once = mix(4, {"music_asset": short["id"], "music_loop": False})
    assert mean_volume(once, 0.2, 1.3) > -12
    assert mean_volume(once, 1.7, 3.8) < -60  # not looped: silence after it ends


def test_long_music_is_cut_at_the_end(mix, tone):
    out = mix(2, {"music_asset": tone["id"]})  # 6 s of music under a 2 s video
    assert abs(audio_duration(out) - 2) <= 0.08 and abs(video_duration(out) - 2) <= 0.04


def test_music_fades_in_and_out(mix, tone):
    out = mix(4, {"music_asset": tone["id"], "fade_in": 1, "fade_out": 1})
    steady = mean_volume(out, 1.5, 2.5)
    assert mean_volume(out, 0, 0.3) < steady - 10  # the first 0.3 s of a 1 s linear fade in
    assert mean_volume(out, 0.5, 0.9) < steady - 1
    assert mean_volume(out, 3.7, 4.0) < steady - 10
    assert mean_volume(out, 3.1, 3.5) < steady - 1


def test_original_audio_volume(alice_api, upload, media_dir, fetch_output, django_capture_on_commit_callbacks):
    """The clips' own sound at original_audio_volume 0.5 is 6 dB below the source (a stereo one: FFmpeg's
    mono-to-stereo upmix spreads a mono source at -3 dB per channel)."""
    source = media_dir / "stereo-clip.mp4"
    if not source.exists():
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-i", str(make_wav(media_dir / "s.wav", seconds=2)),
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source),
        )  # fmt: skip
    clip = upload(alice_api, source)
    body = {"clips": [{"asset": clip["id"]}], "audio": {"original_audio_volume": 0.5}, "output": FAST}
    out = render(alice_api, django_capture_on_commit_callbacks, fetch_output, body)
    original, rendered = mean_volume(source, 0.2, 1.8), mean_volume(out, 0.2, 1.8)
    assert abs((rendered - original) - 20 * math.log10(0.5)) <= 0.5, (original, rendered)
    muted = {"clips": [{"asset": clip["id"]}], "audio": {"original_audio_volume": 0}, "output": FAST}
    assert mean_volume(render(alice_api, django_capture_on_commit_callbacks, fetch_output, muted), 0.2, 1.8) < -80


def test_ducking_lowers_the_music_under_the_voice_over(mix, alice_api, upload, media_dir):
    """Music: a steady 300 Hz tone. Voice-over: a 3 kHz tone from 1.5 s to 3 s. Each band is measured apart."""
    music = upload(alice_api, make_wav(media_dir / "music-300.wav", seconds=5, frequency=300))
    voice = upload(alice_api, make_wav(media_dir / "voice-3k.wav", seconds=1.5, frequency=3000))
    audio = {"music_asset": music["id"], "voiceover_asset": voice["id"], "voiceover_start": 1.5}
    ducked = mix(4.5, {**audio, "ducking": True, "duck_db": 12})
    before, under, after = (mean_volume(ducked, a, b, MUSIC_BAND) for a, b in ((0.3, 1.3), (2.0, 2.9), (3.6, 4.4)))
    assert abs((under - before) + 12) <= 3, (before, under)
    assert abs(after - before) <= 1.5, (before, after)  # back up once the voice stops
    # The voice-over itself is not ducked, and is where it was put.
    assert mean_volume(ducked, 1.7, 2.9, VOICE_BAND) > -15
    assert mean_volume(ducked, 0.2, 1.3, VOICE_BAND) < -50
    # Without ducking the music band stays level through the voice-over: the bands really are apart.
    plain = mix(4.5, audio)
    assert abs(mean_volume(plain, 2.0, 2.9, MUSIC_BAND) - mean_volume(plain, 0.3, 1.3, MUSIC_BAND)) <= 1


@pytest.mark.parametrize("target", [-23, -14])
def test_normalize_reaches_the_target_loudness(target, mix, tone):
    out = mix(5, {"music_asset": tone["id"], "music_volume": 0.2, "normalize": True, "target_lufs": target})
    assert abs(integrated_loudness(out) - target) <= 1
