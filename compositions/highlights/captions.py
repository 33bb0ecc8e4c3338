"""Word-level captions for one vertical clip: an ASS file to burn (the spoken word highlighted) and SRT/WebVTT
files to deliver, one cue per line of words. Words are user content: they never become tags or cue syntax."""

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import pysubs2

from jobs.transcription.transcript import SENTENCE_PAUSE, Word, ends_sentence

# Short-video apps draw their UI over the bottom ~20% and the right ~15% of the picture: captions sit above it.
MARGIN_LEFT, MARGIN_RIGHT = 0.08, 0.15  # shares of the width
MARGIN_BOTTOM = 0.28  # share of the height below the captions' bottom edge ("lower")
POSITIONS = {"lower": pysubs2.Alignment.BOTTOM_CENTER, "middle": pysubs2.Alignment.MIDDLE_CENTER}
# A line never spans a pause that would end a sentence.
LINE_PAUSE = SENTENCE_PAUSE
_JOINER = "\u2060"  # WORD JOINER: invisible, and it keeps `\N`, `{\`, `<i` and `->` from forming


@dataclass(frozen=True)
class Look:
    font_share: float  # font size as a share of the height
    bold: bool
    outline_share: float  # outline width (box padding with a box) as a share of the height
    text: str  # #RRGGBB of the words
    highlight: str  # #RRGGBB of the spoken word (the filled part with karaoke)
    scale: float = 1.0  # the spoken word's size against the others
    box: bool = False
    karaoke: bool = False


LOOKS = {
    "bold": Look(0.040, True, 0.0045, "#FFFFFF", "#FFD700", scale=1.1),
    "karaoke": Look(0.036, True, 0.0035, "#FFFFFF", "#FFD700", karaoke=True),
    "minimal": Look(0.026, False, 0.0012, "#D0D0D0", "#FFFFFF"),
    "boxed": Look(0.032, True, 0.008, "#FFFFFF", "#FFD700", box=True),
}
STYLES = tuple(LOOKS)


@dataclass
class CaptionFiles:
    ass: str
    srt: str
    vtt: str


def caption_files(
    words: Sequence[Word],
    *,
    style: str = "bold",
    size: tuple[int, int] = (1080, 1920),
    max_words: int = 3,
    position: str = "lower",
) -> CaptionFiles:
    """The clip's captions; `words` are on the clip's timeline, `size` is the output video's (the ASS canvas)."""
    if style not in LOOKS:
        raise ValueError(f"unknown caption style {style!r}; one of {', '.join(STYLES)}")
    if position not in POSITIONS:
        raise ValueError(f"unknown caption position {position!r}; one of {', '.join(POSITIONS)}")
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    look, (width, height) = LOOKS[style], size
    font_size = round(look.font_share * height)
    safe_width = width * (1 - MARGIN_LEFT - MARGIN_RIGHT)
    lines = group_lines(words, max_words=max_words, fits=lambda texts: line_width(texts, look, font_size) <= safe_width)

    ass = pysubs2.SSAFile()
    # WrapStyle 0: should the width estimate ever fall short, libass wraps upwards rather than past the margins.
    ass.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "0", "ScaledBorderAndShadow": "yes"})
    ass.styles = {"Default": ass_style(look, font_size, width, height, position)}
    cues = pysubs2.SSAFile()
    for line in lines:
        shrink = min(1.0, safe_width / line_width([w.word for w in line], look, font_size))
        ass.events.extend(karaoke_event(line, look, shrink) if look.karaoke else highlight_events(line, look, shrink))
        cues.events.append(pysubs2.SSAEvent(start=ms(line[0].start), end=ms(line[-1].end), text=""))
    srt = [" ".join(srt_text(w.word) for w in line) for line in lines]
    vtt = [" ".join(vtt_text(w.word) for w in line) for line in lines]
    return CaptionFiles(ass=ass.to_string("ass"), srt=_cues(cues, srt, "srt"), vtt=_cues(cues, vtt, "vtt"))


def clean(text: str) -> str:
    """One line of printable text: whitespace runs (newlines included) become one space; control characters and
    lone surrogates (which no file encoding can hold) go."""
    text = "".join(c for c in text if c.isspace() or unicodedata.category(c) not in ("Cc", "Cs"))
    return " ".join(text.split())


def group_lines(words: Sequence[Word], *, max_words: int, fits) -> list[list[Word]]:
    """Lines of at most `max_words` words that `fits` (given their texts); a line ends at a sentence's end and at
    a pause, and never spans one. Words with no printable text are left out."""
    lines: list[list[Word]] = []
    for word in sorted((w for w in words if clean(w.word)), key=lambda w: w.start):
        line = lines[-1] if lines else None
        if (
            line
            and len(line) < max_words
            and not ends_sentence(clean(line[-1].word))
            and word.start - line[-1].end < LINE_PAUSE
            and fits([w.word for w in line] + [word.word])
        ):
            line.append(word)
        else:
            lines.append([word])
    return lines


def line_width(texts: Sequence[str], look: Look, font_size: int) -> float:
    """A generous estimate of a line's width in pixels (DejaVu Sans), the spoken word enlarged and the outline or
    box padding included: wrapping on it keeps a line inside the safe width without measuring glyphs."""
    words = [sum(_em(c) for c in clean(t)) * font_size * (1.1 if look.bold else 1.0) for t in texts]
    space = 0.35 * font_size * max(0, len(words) - 1)
    return (
        sum(words)
        + max(words, default=0) * (look.scale - 1)
        + space
        + 2 * font_size * look.outline_share / look.font_share
    )


def _em(char: str) -> float:
    if unicodedata.east_asian_width(char) in "WF":
        return 1.0
    if char in "iljtfrI.,;:'!|()[] ":
        return 0.33
    if char in "mwMW@%":
        return 0.85
    return 0.67 if char.isupper() or char.isdigit() else 0.56


def ass_style(look: Look, font_size: int, width: int, height: int, position: str) -> pysubs2.SSAStyle:
    return pysubs2.SSAStyle(
        fontname="DejaVu Sans",
        fontsize=font_size,
        primarycolor=_color(look.highlight if look.karaoke else look.text),
        secondarycolor=_color(look.text),  # karaoke: the words not yet spoken
        outlinecolor=_color("#000000"),
        backcolor=_color("#000000", alpha=0x80),
        bold=look.bold,
        borderstyle=3 if look.box else 1,
        outline=round(look.outline_share * height, 1),
        shadow=0 if look.box else round(0.001 * height, 1),
        alignment=POSITIONS[position],
        marginl=round(MARGIN_LEFT * width),
        marginr=round(MARGIN_RIGHT * width),
        marginv=round(MARGIN_BOTTOM * height),
    )


def highlight_events(line: list[Word], look: Look, shrink: float) -> list[pysubs2.SSAEvent]:
    """One event per word: the whole line, that word in the highlight colour (and size) until the next begins."""
    base, big = round(100 * shrink), round(100 * shrink * look.scale)
    normal = f"{{\\1c{_tag_color(look.text)}\\fscx{base}\\fscy{base}}}"
    spoken = f"{{\\1c{_tag_color(look.highlight)}\\fscx{big}\\fscy{big}}}"
    tokens = [ass_text(w.word) for w in line]
    events = []
    for index, word in enumerate(line):
        until = line[index + 1].start if index + 1 < len(line) else word.end
        text = " ".join(f"{spoken}{t}{normal}" if i == index else t for i, t in enumerate(tokens))
        events.append(pysubs2.SSAEvent(start=ms(word.start), end=ms(max(until, word.start)), text=normal + text))
    return events


def karaoke_event(line: list[Word], look: Look, shrink: float) -> list[pysubs2.SSAEvent]:
    """One event per line; each word fills with \\kf while it is spoken (pauses as empty \\k syllables)."""
    scale = round(100 * shrink)
    parts, cursor = [f"{{\\fscx{scale}\\fscy{scale}}}"], _cs(line[0].start)
    for index, word in enumerate(line):
        start, end = max(cursor, _cs(word.start)), max(cursor, _cs(word.end))
        if start > cursor:
            parts.append(f"{{\\k{start - cursor}}}")
        parts.append(f"{{\\kf{end - start}}}{ass_text(word.word)}" + (" " if index + 1 < len(line) else ""))
        cursor = end
    return [pysubs2.SSAEvent(start=_cs(line[0].start) * 10, end=cursor * 10, text="".join(parts))]


def ass_text(text: str) -> str:
    """Literal text for libass: `\\{` and `\\}` are its escaped braces; a joiner after each backslash keeps it
    from starting `\\N`, `\\n`, `\\h` or escaping a brace."""
    return clean(text).replace("\\", "\\" + _JOINER).replace("{", "\\{").replace("}", "\\}")


def srt_text(text: str) -> str:
    """SRT has no escapes: a joiner breaks what players read as markup (`<i>`, `{\\an8}`, `\\N`) or a timing."""
    text = clean(text).replace("->", "-" + _JOINER + ">")
    for mark in "\\{<":
        text = text.replace(mark, mark + _JOINER)
    return text


def vtt_text(text: str) -> str:
    """WebVTT cue text: HTML escapes (which also rule out `-->`); a joiner keeps the writer from reading `\\N`."""
    return html.escape(clean(text), quote=False).replace("\\", "\\" + _JOINER)


def _cues(template: pysubs2.SSAFile, texts: list[str], fmt: str) -> str:
    for event, text in zip(template.events, texts, strict=True):
        event.text = text
    return template.to_string(fmt, keep_ssa_tags=True)  # the text is already in the format's own terms


def ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _cs(seconds: float) -> int:
    return max(0, round(seconds * 100))


def _color(hex_color: str, alpha: int = 0) -> pysubs2.Color:
    return pysubs2.Color(int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16), alpha)


def _tag_color(hex_color: str) -> str:
    """#RRGGBB as an override tag's &HBBGGRR&."""
    return f"&H{hex_color[5:7]}{hex_color[3:5]}{hex_color[1:3]}&".upper()
