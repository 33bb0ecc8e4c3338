"""Parse FFmpeg's `-progress` key=value stream into percent and ETA."""

import time
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Progress of one FFmpeg run over `duration` seconds of output; percent never goes backwards."""

    duration: float | None
    percent: float = 0.0
    out_seconds: float = 0.0
    speed: float | None = None
    done: bool = False
    started: float = field(default_factory=time.monotonic)

    def feed(self, line: str) -> None:
        key, _, value = line.strip().partition("=")
        if key in ("out_time_us", "out_time_ms"):  # both are microseconds in FFmpeg 5+
            try:
                self.out_seconds = max(self.out_seconds, int(value) / 1_000_000)
            except ValueError:
                return
            if self.duration:
                self.percent = max(self.percent, min(99.9, 100 * self.out_seconds / self.duration))
        elif key == "speed":
            try:
                self.speed = float(value.rstrip("x"))
            except ValueError:
                self.speed = None
        elif key == "progress" and value == "end":
            self.done = True
            self.percent = 100.0

    @property
    def eta_seconds(self) -> float | None:
        if self.done:
            return 0.0
        if not self.percent:
            return None
        elapsed = time.monotonic() - self.started
        return round(elapsed * (100 - self.percent) / self.percent, 1)
