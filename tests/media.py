"""Test media made with FFmpeg's lavfi sources: tiny, generated once per session, cached in a temp dir."""

import json
import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args], check=True)


def probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
    )
    return json.loads(out.stdout)


def make_clip(path: Path, *, seconds: float = 2, size: str = "320x240", rate: int = 25, audio: bool = True) -> Path:
    """An H.264/AAC MP4 test pattern with a sine tone."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(rate)]
    args += ["-c:a", "aac", "-shortest"] if audio else []
    ffmpeg(*args, str(path))
    return path


def make_tone(path: Path, *, seconds: float = 2) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "libmp3lame", str(path))
    return path


def streams(info: dict, kind: str) -> list[dict]:
    """The streams of one `codec_type` in ffprobe JSON."""
    return [s for s in info["streams"] if s["codec_type"] == kind]


def decode_errors(path: Path) -> str:
    """Decode every stream to nowhere; FFmpeg's error output (empty for a clean, playable file)."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"exit {done.returncode}: {done.stderr}" if done.returncode or done.stderr.strip() else ""
