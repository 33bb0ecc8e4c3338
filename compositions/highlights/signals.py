"""What one decode of the input tells the highlight picker: silences, loudness over time, shot cuts."""

from dataclasses import dataclass, field


@dataclass
class Signals:
    duration: float
    silences: list[tuple[float, float]] = field(default_factory=list)  # (start, end) seconds
    loudness: list[tuple[float, float]] = field(default_factory=list)  # (time, momentary LUFS), every 0.1 s
    cuts: list[float] = field(default_factory=list)  # shot cuts, seconds
