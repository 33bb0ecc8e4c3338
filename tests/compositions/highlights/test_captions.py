"""Captions: every style burnt by libass inside the safe band, the spoken word highlighted (read back with
tesseract), line grouping, SRT/WebVTT cues, and hostile words kept as text in all three files."""

import html
import re
import subprocess

import ffmpeg
import numpy as np
import pysubs2
import pytest

from compositions.highlights.captions import MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT, STYLES, caption_files
from jobs.ffmpeg.filtergraph import filter_path
from jobs.transcription.transcript import Word
from tests.tools import require

WIDTH, HEIGHT = 1080, 1920
BACKGROUND = (0x33, 0x66, 0x99)
JOINER = "\u2060"
HOSTILE = ["{\\pos(0,0)}", "a\\Nb", "-->", "two\nlines", "<i>it</i>&amp;", "Ünïcødé✓", "}\\", "{", "\\"]
SPEECH = [Word("Show", 0.0, 0.3), Word("me", 0.35, 0.6), Word("this.", 0.65, 1.0)]


def say(*texts: str, step: float = 0.4) -> list[Word]:
    return [Word(text, i * step, i * step + step * 0.9) for i, text in enumerate(texts)]


def burn(ass: str, tmp_path, at: float, size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    """The RGB frame at `at` s of a 4 s, 5 fps colour source with `ass` burnt in by the subtitles filter."""
    path = tmp_path / "captions.ass"
    path.write_text(ass, encoding="utf-8")
    source = ffmpeg.input(f"color=c=0x{bytes(BACKGROUND).hex()}:s={size[0]}x{size[1]}:r=5:d=4", f="lavfi")
    out = source.filter("subtitles", filename=filter_path(path)).output(
        "pipe:", ss=f"{at:.3f}", vframes=1, format="rawvideo", pix_fmt="rgb24"
    )
    done = subprocess.run(["ffmpeg", "-v", "error", *out.get_args()], capture_output=True, check=True)
    assert not done.stderr, done.stderr
    return np.frombuffer(done.stdout, np.uint8).reshape(size[1], size[0], 3)


def drawn(frame: np.ndarray) -> np.ndarray:
    """Mask of the pixels that are not the background."""
    return np.abs(frame.astype(int) - BACKGROUND).sum(axis=2) > 40


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    assert len(xs), "nothing was drawn"
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def highlighted(frame: np.ndarray) -> np.ndarray:
    """Mask of the highlight colour (#FFD700): red and green high, blue low."""
    red, green, blue = (frame[..., i].astype(int) for i in range(3))
    return (red > 200) & (green > 160) & (blue < 90)


def assert_in_safe_band(frame: np.ndarray, size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
    """Everything drawn lies right of the left margin, left of the apps' right-hand buttons, below the middle of
    the picture and well above the bottom fifth that their captions and buttons cover."""
    width, height = size
    left, top, right, bottom = bbox(drawn(frame))
    assert left >= MARGIN_LEFT * width and right <= (1 - MARGIN_RIGHT) * width, (left, right)
    assert top >= 0.5 * height and bottom <= (1 - MARGIN_BOTTOM + 0.03) * height, (top, bottom)


def ocr(frame: np.ndarray, tmp_path) -> str:
    """What tesseract reads in the caption band, the bright text made black on white for it."""
    tesseract = require("tesseract", "tesseract-ocr")
    band = frame[int(0.6 * HEIGHT) : int(0.75 * HEIGHT)].astype(int)
    luma = 0.299 * band[..., 0] + 0.587 * band[..., 1] + 0.114 * band[..., 2]
    image = tmp_path / "band.pgm"
    image.write_bytes(
        b"P5 %d %d 255\n" % (band.shape[1], band.shape[0]) + np.where(luma > 150, 0, 255).astype(np.uint8).tobytes()
    )
    done = subprocess.run([tesseract, str(image), "-", "--psm", "6"], capture_output=True, text=True, check=True)
    return done.stdout


def cues(text: str) -> list[pysubs2.SSAEvent]:
    return pysubs2.SSAFile.from_string(text).events


def assert_cue_syntax(text: str) -> None:
    """`-->` appears only in timing lines, and no cue text line is empty (which would end the cue)."""
    timing = re.compile(r"^\d{2}:\d{2}:\d{2}[,.]\d{3} --> \d{2}:\d{2}:\d{2}[,.]\d{3}$")
    for line in text.splitlines():
        assert "-->" not in line or timing.match(line), line


@pytest.mark.parametrize("style", STYLES)
def test_every_style_burns_inside_the_safe_band(style, tmp_path):
    files = caption_files(SPEECH, style=style)
    frame = burn(files.ass, tmp_path, 0.4)
    assert drawn(frame).sum() > 2000
    assert_in_safe_band(frame)


@pytest.mark.parametrize("style", STYLES)
def test_long_words_are_wrapped_or_shrunk_to_the_safe_width(style, tmp_path):
    texts = ["Extraordinary", "communication", "breakthroughs", "Pneumonoultramicroscopicsilicovolcanoconiosis"]
    files = caption_files(say(*texts), style=style)
    assert len(cues(files.srt)) >= 3  # three long words never share a line
    for at in (0.2, 0.6, 1.4):  # the last word alone is still too wide: it is drawn smaller
        assert_in_safe_band(burn(files.ass, tmp_path, at))


def test_safe_band_follows_the_output_size(tmp_path):
    size = (540, 960)
    frame = burn(caption_files(SPEECH, size=size).ass, tmp_path, 0.4, size)
    assert_in_safe_band(frame, size)
    assert bbox(drawn(frame))[3] - bbox(drawn(frame))[1] < 0.06 * size[1]  # sizes scale with the canvas


def test_middle_position_centres_the_line(tmp_path):
    frame = burn(caption_files(SPEECH, position="middle").ass, tmp_path, 0.4)
    _, top, _, bottom = bbox(drawn(frame))
    assert abs((top + bottom) / 2 - HEIGHT / 2) < 0.03 * HEIGHT


def test_bold_highlights_the_spoken_word_and_tesseract_reads_it(tmp_path):
    files = caption_files(SPEECH, style="bold")
    centres = []
    for word in SPEECH:
        frame = burn(files.ass, tmp_path, (word.start + word.end) / 2)
        xs = np.nonzero(highlighted(frame))[1]
        assert len(xs) > 300, word
        centres.append(xs.mean())
    assert centres == sorted(centres) and centres[-1] - centres[0] > 200  # left to right, one word at a time
    read = ocr(burn(files.ass, tmp_path, 0.4), tmp_path)
    assert "me" in read.split(), read
    assert "Show" in read, read


def test_karaoke_fills_the_line_as_it_is_spoken(tmp_path):
    files = caption_files(SPEECH, style="karaoke")
    assert len(pysubs2.SSAFile.from_string(files.ass).events) == 1
    assert re.findall(r"\\kf(\d+)", files.ass) == ["30", "25", "35"]  # each word's duration, centiseconds
    filled = [highlighted(burn(files.ass, tmp_path, at)).sum() for at in (0.2, 0.6, 0.8)]
    assert filled[0] < filled[1] < filled[2], filled


def test_minimal_and_boxed_look_as_named(tmp_path):
    minimal = bbox(drawn(burn(caption_files(SPEECH, style="minimal").ass, tmp_path, 0.4)))
    bold = bbox(drawn(burn(caption_files(SPEECH, style="bold").ass, tmp_path, 0.4)))
    assert minimal[3] - minimal[1] < 0.75 * (bold[3] - bold[1])  # smaller text
    frame = burn(caption_files(SPEECH, style="boxed").ass, tmp_path, 0.4)
    left, top, right, bottom = bbox(drawn(frame))
    box = frame[top:bottom, left:right].astype(int).sum(axis=2)
    assert (box < 30).mean() > 0.5  # mostly the opaque black box around the text


def test_lines_hold_max_words_and_break_at_sentences_and_pauses():
    texts = [f"w{i}" for i in range(10)]
    for max_words in (1, 2, 3, 4):
        lines = [event.text.split() for event in cues(caption_files(say(*texts), max_words=max_words).srt)]
        assert all(len(line) <= max_words for line in lines)
        assert [w for line in lines for w in line] == texts
        assert len(lines) == -(-10 // max_words)
    spoken = [Word("One.", 0.0, 0.3), Word("Two", 0.35, 0.6), Word("three", 0.65, 0.9), Word("four", 1.6, 1.9)]
    lines = [event.text for event in cues(caption_files(spoken, max_words=5).srt)]
    assert lines == ["One.", "Two three", "four"]  # a sentence end, then a 0.7 s pause


def test_srt_and_vtt_have_one_cue_per_line_timed_by_its_words():
    spoken = say("we", "cut", "long", "videos", "into", "short", "clips", "for", "you", step=0.37)
    files = caption_files(spoken, max_words=3)
    assert files.vtt.startswith("WEBVTT")
    for text in (files.srt, files.vtt):
        events = cues(text)
        assert [e.text for e in events] == ["we cut long", "videos into short", "clips for you"]
        for event, line in zip(events, (spoken[0:3], spoken[3:6], spoken[6:9]), strict=True):
            assert abs(event.start / 1000 - line[0].start) <= 0.05
            assert abs(event.end / 1000 - line[-1].end) <= 0.05
    ass_events = pysubs2.SSAFile.from_string(files.ass).events
    assert len(ass_events) == len(spoken)  # bold: one event per word
    assert all(abs(e.start / 1000 - w.start) <= 0.01 for e, w in zip(ass_events, spoken, strict=True))


def test_hostile_words_stay_text_in_every_file(tmp_path):
    spoken = say(*HOSTILE)
    expected = [" ".join(w.split()) for w in HOSTILE]
    for style in STYLES:
        files = caption_files(spoken, style=style, max_words=1)
        events = pysubs2.SSAFile.from_string(files.ass).events
        assert len(events) == len(HOSTILE)
        for event, word in zip(events, expected, strict=True):
            blocks = re.findall(r"(?<!\\)\{[^}]*\}", event.text.replace(f"\\{JOINER}", ""))
            assert all(re.fullmatch(r"\{(\\(1c&H[0-9A-F]{6}&|fscx\d+|fscy\d+|kf?\d+))+\}", b) for b in blocks), blocks
            literal = re.sub(r"(?<!\\)\{[^}]*\}", "", event.text)  # what libass draws: \{ \} are its braces
            assert literal.replace("\\{", "{").replace("\\}", "}").replace(JOINER, "").strip() == word
            assert "\\N" not in literal and "\\n" not in literal and "\\h" not in literal
        assert_in_safe_band(burn(files.ass, tmp_path, 0.2))  # a real \pos(0,0) would draw it top-left
    files = caption_files(spoken, max_words=1)
    for text, decode in ((files.srt, str), (files.vtt, html.unescape)):
        assert_cue_syntax(text)
        assert [decode(e.text).replace(JOINER, "") for e in cues(text)] == expected
    assert "<i>" not in files.srt and "<" not in files.vtt.replace("&lt;", "")


def test_tesseract_reads_a_hostile_word_literally(tmp_path):
    frame = burn(caption_files([Word("{\\pos(0,0)}", 0.0, 1.0)]).ass, tmp_path, 0.4)
    assert "pos(0,0)" in ocr(frame, tmp_path).replace(" ", "")


def test_words_with_no_text_and_unknown_names_are_handled():
    files = caption_files([Word(" \n", 0.0, 0.2), Word("hi", 0.3, 0.5)])
    assert [e.text for e in cues(files.srt)] == ["hi"]
    files = caption_files([Word("a\x00\x1b\ud800b", 0.0, 1.0)])
    assert [e.text for e in cues(files.srt)] == ["ab"]
    assert "ab" in files.ass.encode("utf-8").decode()
    empty = caption_files([])
    assert empty.srt == "" and cues(empty.vtt) == [] and "Dialogue" not in empty.ass
    with pytest.raises(ValueError, match="style"):
        caption_files(SPEECH, style="neon")
    with pytest.raises(ValueError, match="position"):
        caption_files(SPEECH, position="top")
