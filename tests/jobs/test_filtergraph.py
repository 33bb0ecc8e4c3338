"""The filter-graph escaping helper against the real FFmpeg: hostile text and paths reach filters unchanged.

`metadata=mode=add` stores an option value on each frame and `metadata=mode=print` writes it back out, so what
the filter received can be compared byte for byte with what was given."""

import hashlib
import subprocess
from pathlib import Path

import ffmpeg
import pytest

from jobs.ffmpeg.filtergraph import (
    FilterValueError,
    available_filters,
    drawtext_text,
    drawtext_textfile,
    filter_path,
    filter_value,
)

HOSTILE = [
    "plain",
    "it's a \\ backslash: key=value, next; [label] 100% %{pts} %%",
    "'''",
    "\\",
    "a\\'b\\\\:c",
    "line one\nline two\r\ttabbed",
    "ünïcødé ✓ 日本語 😀",
    "x=1:y=2,drawbox;[0:v]negate[out]",
    "'; rm -rf /; echo '",
]
HOSTILE_DIR = "dir 'q' a:b,c [x];y=z %d \\ é"


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *args], capture_output=True)


def black(seconds: float = 0.04, size: str = "32x32"):
    return ffmpeg.input(f"color=c=black:s={size}:rate=25:d={seconds}", f="lavfi")


def received(tmp_path: Path, value: str, *args) -> str:
    """What the metadata filter received as its value option: given as keyword `value`, or positionally."""
    out = tmp_path / HOSTILE_DIR / "printed.txt"
    out.parent.mkdir(exist_ok=True)
    stream = black()
    if args:
        stream = stream.filter("metadata", *args, value)
    else:
        stream = stream.filter("metadata", mode="add", key="probe", value=value)
    stream = stream.filter("metadata", mode="print", file=filter_path(out))
    done = run(stream.output("-", f="null").get_args())
    assert done.returncode == 0, done.stderr
    printed = out.read_bytes().decode()  # bytes: read_text would turn \r into \n
    return printed.split("probe=", 1)[1].removesuffix("\n")


@pytest.mark.parametrize("text", HOSTILE)
def test_a_keyword_option_receives_the_text_exactly(tmp_path, text):
    assert received(tmp_path, filter_value(text)) == text


def test_positional_arguments_reach_the_filter_escaped(tmp_path):
    """Why the rule says keywords only: ffmpeg-python escapes positional values twice."""
    assert received(tmp_path, "a:b'c", "add", "probe") == "a\\:b\\'c"


def test_edge_whitespace_is_refused_because_ffmpeg_trims_it(tmp_path):
    assert received(tmp_path, "  padded \n") == "padded"  # what would happen without the check
    for value in ("  padded", "padded ", "\nx", "x\n", "a\0b", "\ud800"):
        with pytest.raises(FilterValueError):
            filter_value(value)


def test_paths_are_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert filter_path("http:evil.srt") == f"{tmp_path}/http:evil.srt"


def frames(stream) -> tuple[str, bytes]:
    """(sha256 of the raw frames, the first frame as 8-bit gray) of a one-frame render."""
    done = run(stream.output("-", f="rawvideo", pix_fmt="gray", vframes=1).get_args())
    assert done.returncode == 0, done.stderr
    return hashlib.sha256(done.stdout).hexdigest(), done.stdout


def drawn(**options) -> tuple[str, bytes]:
    return frames(black(size="240x80").filter("drawtext", fontcolor="white", fontsize=14, x=2, y=2, **options))


@pytest.mark.parametrize("text", [*HOSTILE, "  leading spaces", "\n\nleading newlines"])
def test_drawtext_draws_hostile_text_exactly(tmp_path, text):
    """drawtext_text (expansion on, escaped) draws the same pixels as the text read verbatim from a file."""
    reference, pixels = drawn(**drawtext_textfile(text, tmp_path / "text.txt"))
    assert max(pixels) > 120  # something was drawn
    assert drawn(**drawtext_text(text))[0] == reference
    if text == text.strip():
        assert drawn(text=filter_value(text), expansion="none")[0] == reference


def test_drawtext_without_its_own_escape_expands_percent():
    """The check above can fail: unescaped, drawtext replaces %{pts} with the time."""
    assert drawn(text=filter_value("%{pts}"))[0] != drawn(**drawtext_text("%{pts}"))[0]


def test_drawtext_text_refuses_trailing_whitespace_textfile_keeps_it(tmp_path):
    with pytest.raises(FilterValueError):
        drawtext_text("caption ")
    boxed = {"box": 1, "boxcolor": "gray"}  # the box spans the text's extent, trailing space and line included
    exact = drawn(**drawtext_textfile("caption \n", tmp_path / "t.txt"), **boxed)[0]
    assert exact != drawn(**drawtext_text("caption"), **boxed)[0]


SRT = "1\n00:00:00,000 --> 00:00:05,000\nHELLO WORLD\n"


def gray_frame(path: Path, size=(160, 120)) -> list[bytes]:
    done = run(["-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
    assert done.returncode == 0, done.stderr
    width, height = size
    return [done.stdout[row * width : (row + 1) * width] for row in range(height)]


@pytest.mark.parametrize(
    "name",
    [
        "it's: a, [b]; c=d %d.srt",
        "x.srt,negate",
        "x.srt;[0]negate",
        "x.srt[s0];[s0]negate[s1]",
        "x.srt',negate,'",
        "x.srt\\;negate",
    ],
)
def test_subtitles_burn_from_a_hostile_path_without_injection(tmp_path, name):
    """The file is found and burnt in (white text at the bottom), and nothing after `,` or `;` became a filter:
    a `negate` would turn the black picture white."""
    path = tmp_path / HOSTILE_DIR / name
    path.parent.mkdir()
    path.write_text(SRT, encoding="utf-8")
    out = tmp_path / "out.png"
    stream = black(seconds=0.2, size="160x120").filter("subtitles", filename=filter_path(path))
    done = run(stream.output(str(out), vframes=1).get_args())
    assert done.returncode == 0, done.stderr
    rows = gray_frame(out)
    assert max(max(row) for row in rows[80:]) > 120  # the subtitle, bottom third
    assert max(max(row) for row in rows[:40]) < 30  # the rest is still black: no negate ran


def test_available_filters_lists_this_builds_filters():
    names = available_filters()
    assert {"subtitles", "drawtext", "scale", "atempo"} <= names
    assert "no_such_filter" not in names
