"""The one way a user-controlled string or file path enters a filter graph.

The rule: give every such value to ffmpeg-python as a keyword option, `stream.filter(name, key=value)`, with the
value from `filter_value`, `filter_path`, `drawtext_text` or `drawtext_textfile`. Never format it into a filter
string, and never pass it positionally.

Why this is enough. FFmpeg reads a `-filter_complex` twice. The graph parser (`av_get_token` with the terminators
`[ ] , ;`) splits the graph into filters: a backslash makes the next character literal, `'…'` quotes. Each
filter's option string is then split on `:` by the option parser, which unescapes `\\` and `'…'` the same way a
second time. ffmpeg-python 0.2 escapes both levels for keyword options (`FilterNode._get_filter`): it puts a
backslash before `\\ ' = :` in every key and value, joins the options with `:`, then puts a backslash before
`\\ ' [ ] , ;` in the whole `name=options` spec. So each level removes exactly the backslashes the matching
escape added, and the option receives the value as given: quotes, backslashes, separators, brackets, `%`,
newlines and any unicode included. tests/jobs/test_filtergraph.py proves this against the real FFmpeg.

What the two escapes cannot carry, and what the helpers do about it:

- Whitespace at either end of a value: both parsers trim unescaped leading and trailing spaces, tabs and
  newlines, and ffmpeg-python escapes every backslash or quote that could protect them. `filter_value` refuses
  such values (FilterValueError) rather than change them.
- Positional arguments: ffmpeg-python escapes them for the option level twice, so the filter would see the
  backslashes. Only keyword options are safe.
- NUL characters and unpaired surrogates cannot be in a command-line argument at all.
- drawtext expands its text a third time (`%{…}` functions, `\\` escapes) unless `expansion=none`.
  `drawtext_text` escapes for that level too, which also lets it keep leading whitespace; trailing whitespace
  needs `drawtext_textfile`, which writes the text to a file and is exact for any text.
- A path is opened by the filter itself (`subtitles` through libavformat, which reads `proto:` prefixes), so
  `filter_path` makes it absolute: `/…` never names a protocol.
"""

import functools
import subprocess
from os import PathLike
from pathlib import Path

_WHITESPACE = " \t\n\r"  # what FFmpeg's av_get_token trims


class FilterValueError(ValueError):
    """A value that no filter option can receive exactly."""


def filter_value(value: str) -> str:
    """`value` ready for a keyword option of `stream.filter(...)`: the filter receives exactly `value`."""
    value = str(value)
    if "\0" in value:
        raise FilterValueError("a filter option cannot hold a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterValueError("a filter option must be valid unicode text") from None
    if value != value.strip(_WHITESPACE):
        raise FilterValueError("a filter option cannot start or end with whitespace")
    return value


def filter_path(path: str | PathLike) -> str:
    """A file path for a filter option (`subtitles=filename=`, `drawtext=textfile=`, …), made absolute."""
    return filter_value(str(Path(path).absolute()))


def drawtext_text(text: str) -> dict[str, str]:
    """drawtext options (`text`, `expansion`) that draw `text` exactly: drawtext's own `%` and `\\` are escaped.

    Text that ends with whitespace raises FilterValueError: use `drawtext_textfile` for it (or for any text)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%")
    body = escaped.lstrip(_WHITESPACE)
    leading = escaped[: len(escaped) - len(body)]
    return {"text": filter_value("".join(f"\\{char}" for char in leading) + body), "expansion": "normal"}


def drawtext_textfile(text: str, path: Path) -> dict[str, str]:
    """drawtext options (`textfile`, `expansion`) that draw `text` exactly, written to `path` (in the work dir)."""
    path.write_text(text, encoding="utf-8")
    return {"textfile": filter_path(path), "expansion": "none"}


@functools.cache
def available_filters() -> frozenset[str]:
    """The names of the filters this FFmpeg build has (for capabilities such as vidstab)."""
    from django.conf import settings

    try:
        done = subprocess.run(
            [settings.MEDIAHUB_FFMPEG, "-hide_banner", "-filters"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    rows = (line.split() for line in done.stdout.splitlines())
    return frozenset(row[1] for row in rows if len(row) >= 3 and "->" in row[2])
