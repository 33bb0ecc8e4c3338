"""The issue's three composition examples, as written (shorter clips), with their *_url fields served over HTTP
from 127.0.0.1 (allowed through MEDIAHUB_SSRF_ALLOWLIST for the test); without the allowlist the same URLs fail."""

import functools
import math
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.compositions.helpers import compose, frame, mean_volume, ocr, png, video_duration
from tests.media import decode_errors, ffmpeg, probe, streams

FAST = {"resolution": "360p", "quality": "low", "fps": 25}
CLIP_BAND = "lowpass=f=1200,lowpass=f=1200,lowpass=f=1200"  # the clips' 440 Hz tone
MUSIC_BAND = "highpass=f=1200,highpass=f=1200,highpass=f=1200"  # the music's 3 kHz tone


class Quiet(SimpleHTTPRequestHandler):
    requested: list[str]

    def do_GET(self):
        self.requested.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def served_dir(media_dir, clip_path) -> Path:
    """clip1.mp4 (test pattern, 440 Hz), clip2.mp4 (flat blue, 440 Hz), black.mp4 and background.mp3 (3 kHz)."""
    root = media_dir / "served"
    root.mkdir()
    shutil.copy(clip_path, root / "clip1.mp4")
    ffmpeg("-f", "lavfi", "-i", "color=c=0x2040C0:s=320x240:r=25:d=2", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(root / "clip2.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=640x360:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(root / "black.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=3000:duration=5", "-c:a", "libmp3lame", str(root / "background.mp3"))
    return root


@pytest.fixture
def server(served_dir):
    """http://127.0.0.1:<port>/ serving `served_dir`; `.requested` lists the paths asked for."""
    requested: list[str] = []
    handler = type("Handler", (Quiet,), {"requested": requested})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(served_dir)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.requested = requested
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.MEDIAHUB_SSRF_ALLOWLIST = ["127.0.0.0/8"]


def test_simple_video_concatenation(alice_api, server, loopback_allowed, fetch_output,
                                    django_capture_on_commit_callbacks):  # fmt: skip
    body = {
        "title": "My Concatenated Video",
        "clips": [
            {"video_url": f"{server.base}/clip1.mp4", "start_time": 0, "end_time": 2},
            {"video_url": f"{server.base}/clip2.mp4", "start_time": 2, "end_time": 4},
        ],
        "output": FAST,
    }
    done = compose(alice_api, django_capture_on_commit_callbacks, body)
    assert sorted(server.requested) == ["/clip1.mp4", "/clip2.mp4"]
    assert done["output"]["name"] == "My-Concatenated-Video.mp4"
    out = fetch_output(done["output"])
    assert abs(video_duration(out) - 4) <= 0.04
    assert decode_errors(out) == ""
    first, second = frame(out, 1).region(200, 100, 440, 260), frame(out, 3).region(200, 100, 440, 260)
    assert max(first) - min(first) > 100  # the test pattern
    assert max(second) - min(second) < 30  # then the flat blue clip


def test_video_with_background_music(alice_api, server, loopback_allowed, fetch_output,
                                     django_capture_on_commit_callbacks):  # fmt: skip
    body = {
        "title": "With music",
        "clips": [
            {"video_url": f"{server.base}/clip1.mp4", "start_time": 0, "end_time": 2},
            {"video_url": f"{server.base}/clip2.mp4", "start_time": 2, "end_time": 4},
        ],
        "audio": {"music_url": f"{server.base}/background.mp3", "music_volume": 0.3, "original_audio_volume": 0.7},
        "output": FAST,
    }
    out = fetch_output(compose(alice_api, django_capture_on_commit_callbacks, body)["output"])
    assert len(streams(probe(out), "audio")) == 1
    # Both tones are sine waves of one amplitude: in the mix they stand at 0.3 : 0.7, throughout.
    for start in (0.3, 2.3):
        clips, music = mean_volume(out, start, start + 1.4, CLIP_BAND), mean_volume(out, start, start + 1.4, MUSIC_BAND)
        assert abs((music - clips) - 20 * math.log10(0.3 / 0.7)) <= 1, (start, clips, music)


def test_video_with_text_overlays(alice_api, server, loopback_allowed, fetch_output, tmp_path,
                                  django_capture_on_commit_callbacks):  # fmt: skip
    body = {
        "title": "With text",
        "clips": [
            {"video_url": f"{server.base}/black.mp4", "start_time": 0, "end_time": 2},
            {"video_url": f"{server.base}/black.mp4", "start_time": 2, "end_time": 4},
        ],
        "overlays": [
            {
                "text": "Welcome!",
                "position": "center",
                "start_time": 0,
                "end_time": 3,
                "font_size": 48,
                "font_color": "#FFFFFF",
            }
        ],
        "output": FAST,
    }
    out = fetch_output(compose(alice_api, django_capture_on_commit_callbacks, body)["output"])
    assert server.requested == ["/black.mp4"]  # one URL, fetched once, used twice
    assert "Welcome!" in ocr(png(out, 1.5, tmp_path / "welcome.png"))
    left, top, right, bottom = frame(out, 1.5).bbox()
    assert abs((left + right) / 2 - 320) <= 4 and abs((top + bottom) / 2 - 180) <= 12  # centred
    assert frame(out, 3.5).bbox() is None  # gone after end_time


@pytest.mark.parametrize("host", ["loopback", "169.254.169.254", "10.0.0.1"])
def test_private_urls_fail_without_the_allowlist(host, alice_api, server, django_capture_on_commit_callbacks):
    base = server.base if host == "loopback" else f"http://{host}"
    body = {"clips": [{"video_url": f"{base}/clip1.mp4"}], "output": FAST}
    done = compose(alice_api, django_capture_on_commit_callbacks, body, status="failed")
    assert done["error"]["code"] == "source_fetch_failed"
    assert done["output"] is None and server.requested == []
