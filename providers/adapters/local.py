"""The offline provider: the prompt as an animated title card, rendered here by FFmpeg over moving gradients (or
the start image, slowly zoomed) with a soft chord. Generation then works end to end with no key and no network;
the video previews the flow, it is not AI video."""

import re
import shutil
import tempfile
import textwrap
import urllib.parse
import urllib.request
import uuid
import zlib
from pathlib import Path

import ffmpeg
from django.conf import settings

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.filtergraph import drawtext_text, drawtext_textfile, filter_value
from jobs.ffmpeg.inputs import input_options
from jobs.ffmpeg.runner import run_ffmpeg
from keys.provider_checks import CheckResult
from providers.adapters.base import (
    INVALID_REQUEST,
    PROVIDER_ERROR,
    Adapter,
    ModelInfo,
    Poll,
    ProviderError,
    Request,
    Submitted,
)

FPS = 24
SAMPLE_RATE = 48000
SHORT_SIDE = {"360p": 360, "480p": 480, "720p": 720}
DEFAULT_RESOLUTION = "480p"
FONT = "DejaVu Sans:style=Bold"  # a fontconfig pattern, as compositions name fonts
SECONDS_PER_PAGE = 1.6  # the shortest time a page of words stays up: long prompts are cut, not rushed
FADE = 0.3
ZOOM = 0.15  # the Ken Burns zoom over the whole video
RENDER_TIMEOUT = 300
# Dark gradient colours: white text stays legible on every one of them.
PALETTES = [
    ("0x1b2a49", "0x6b2d5c", "0x0f4c5c"),
    ("0x2d1b49", "0x1f5f8b", "0x3a0f3c"),
    ("0x0b3d2e", "0x28536b", "0x4a1942"),
    ("0x3d1c02", "0x5c2a4d", "0x1b3a4b"),
]
CHORD = (220.0, 277.18, 329.63, 440.0)  # A major, quiet
MEDIA_ERRORS = {"corrupt_input", "no_streams", "protocol_refused"}  # the start image is at fault: final
_TASK_ID = re.compile(r"[0-9a-f]{32}")


def frame_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """Width and height, both even: the resolution names the short side ("480p" 16:9 → 854×480)."""
    short = SHORT_SIDE.get(resolution, SHORT_SIDE[DEFAULT_RESOLUTION])
    wide, tall = (int(part) for part in aspect_ratio.split(":"))
    long = round(short * max(wide, tall) / min(wide, tall) / 2) * 2
    return (long, short) if wide >= tall else (short, long)


def printable(prompt: str) -> str:
    """The prompt's words on one line: control characters and lone surrogates (no font draws them) as spaces."""
    return " ".join("".join(char if char.isprintable() else " " for char in prompt).split())


def pages(text: str, *, chars: int, lines: int, count: int) -> list[list[str]]:
    """`text` wrapped to `chars` a line, `lines` a page, at most `count` pages; a cut ends with an ellipsis."""
    wrapped = textwrap.wrap(text, chars)
    grouped = [wrapped[start : start + lines] for start in range(0, len(wrapped), lines)]
    if len(grouped) > count:
        grouped = grouped[:count]
        grouped[-1][-1] = grouped[-1][-1][: chars - 1].rstrip() + "…"
    return grouped


class Local(Adapter):
    name = "local"
    label = "Local preview (offline)"
    default_base_url = ""
    needs_credential = False
    models = {
        "title-card": ModelInfo(
            id="title-card",
            label="Title card",
            durations=(2, 4, 5, 8, 10),
            aspect_ratios=("16:9", "9:16", "1:1", "4:5"),
            resolutions=(DEFAULT_RESOLUTION, "360p", "720p"),  # the first is the default: small and quick
            image="optional",
            price_per_second=0.0,  # rendered on this server
            default_duration=4,
        )
    }
    default_model = "title-card"

    @staticmethod
    def directory() -> Path:
        return Path(settings.MEDIAHUB_WORK_DIR).absolute() / "local-provider"

    def output(self, task_id: str) -> Path | None:
        """The task's video path; None for an id this adapter never made (ids reach paths only when checked)."""
        return self.directory() / f"{task_id}.mp4" if _TASK_ID.fullmatch(task_id) else None

    def create(self, request: Request, credential: dict[str, str]) -> Submitted:
        """Render the whole video now: there is nothing to wait for afterwards."""
        task_id = uuid.uuid4().hex
        target = self.output(task_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part.mp4")
        workdir = Path(tempfile.mkdtemp(prefix=f"{task_id}-", dir=target.parent))
        try:
            run_ffmpeg(self.command(request, partial, workdir), duration=request.duration, timeout=RENDER_TIMEOUT)
            partial.rename(target)
        except MediaError as exc:
            code = INVALID_REQUEST if exc.code in MEDIA_ERRORS else PROVIDER_ERROR
            raise ProviderError(code, f"The local render failed: {exc.message}") from None
        finally:
            partial.unlink(missing_ok=True)
            shutil.rmtree(workdir, ignore_errors=True)
        return Submitted(task_id)

    def poll(self, task_id: str, model: str, credential: dict[str, str]) -> Poll:
        path = self.output(task_id)
        if path is None or not path.is_file():
            return Poll(state="failed", error=ProviderError(PROVIDER_ERROR, "The local video is gone."))
        return Poll(state="succeeded", progress=100, video_url=path.as_uri())

    def cancel(self, task_id: str, model: str, credential: dict[str, str]) -> None:
        path = self.output(task_id)
        if path is not None:
            path.unlink(missing_ok=True)

    def download(self, poll: Poll, credential: dict[str, str], dest: Path, *, max_bytes: int) -> str:
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(poll.video_url).path))
        if self.output(path.stem) != path or not path.is_file():  # only a video this adapter made
            raise ProviderError(PROVIDER_ERROR, "The local video is gone.")
        if path.stat().st_size > max_bytes:
            raise ProviderError(PROVIDER_ERROR, "The local video is larger than the download limit.")
        shutil.move(path, dest)
        return "video/mp4"

    def validate(self, credential: dict[str, str]) -> CheckResult:
        return CheckResult("active", "The local provider needs no key.")

    # --- the render --------------------------------------------------------------------------------------

    def command(self, request: Request, out: Path, workdir: Path) -> list[str]:
        width, height = frame_size(request.aspect_ratio, request.resolution)
        seed = request.seed if request.seed is not None else zlib.crc32(request.prompt.encode("utf-8", "replace"))
        if request.image_path is not None:
            video = self.ken_burns(request.image_path, width, height, request.duration)
        else:
            video = self.gradients(width, height, request.duration, seed)
        video = self.title(video, printable(request.prompt), width, height, request.duration, workdir)
        audio = self.pad(request.duration)
        encoder = {
            "c:v": "libx264", "preset": "veryfast", "crf": 26, "pix_fmt": "yuv420p", "r": FPS,
            "c:a": "aac", "b:a": "96k", "movflags": "+faststart",
        }  # fmt: skip
        return ffmpeg.output(video, audio, str(out), t=request.duration, **encoder).get_args()

    @staticmethod
    def gradients(width: int, height: int, seconds: int, seed: int):
        first, second, third = PALETTES[seed % len(PALETTES)]
        source = (
            f"gradients=s={width}x{height}:r={FPS}:d={seconds}:n=3:c0={first}:c1={second}:c2={third}"
            f":speed=0.015:seed={seed % 2**32}"
        )
        return ffmpeg.input(source, f="lavfi").video.filter("format", "yuv420p")

    @staticmethod
    def ken_burns(image: Path, width: int, height: int, seconds: int):
        """The image once, cropped to fill at twice the size (a smoother zoom), then zoompan makes every frame."""
        frames = seconds * FPS
        picture = ffmpeg.input(str(Path(image).absolute()), **input_options()).video
        picture = picture.filter("scale", width * 2, height * 2, force_original_aspect_ratio="increase")
        picture = picture.filter("crop", width * 2, height * 2).filter("setsar", 1)
        picture = picture.filter(
            "zoompan",
            z=f"1+{ZOOM}*on/{frames}",
            x="iw/2-(iw/zoom/2)",
            y="ih/2-(ih/zoom/2)",
            d=frames,
            s=f"{width}x{height}",
            fps=FPS,
        )
        picture = picture.filter("trim", end=seconds).filter("format", "yuv420p")
        return picture.filter("drawbox", color="black@0.35", t="fill")  # dimmed: the title stays legible

    @staticmethod
    def title(video, text: str, width: int, height: int, seconds: int, workdir: Path):
        """The words a few lines at a time, each page fading in and rising a little; every line from a file."""
        size = round(min(width, height) / 10)
        line_height = round(size * 1.3)
        capitals = sum(char.isupper() for char in text) / max(1, len(text.replace(" ", "")))
        em = 0.6 + 0.15 * capitals  # DejaVu Sans Bold's mean advance: capitals are wider
        chars = max(8, int(0.9 * width / (em * size)))
        lines = min(5, max(2, int(0.55 * height / line_height)))
        shown = pages(text, chars=chars, lines=lines, count=max(1, int(seconds / SECONDS_PER_PAGE)))
        slot = seconds / max(1, len(shown))
        for number, page in enumerate(shown):
            start, end = round(number * slot, 3), round((number + 1) * slot, 3)
            top = (height - line_height * len(page)) / 2 + size  # the first baseline, the block centred
            for index, line in enumerate(page):
                video = video.filter(
                    "drawtext",
                    **drawtext_textfile(line, workdir / f"line-{number}-{index}.txt"),
                    font=filter_value(FONT),
                    fontsize=size,
                    fontcolor="white",
                    borderw=max(1, size // 24),
                    bordercolor="black@0.4",
                    x="(w-text_w)/2",
                    y=f"{top + index * line_height:.1f}-max_glyph_a+{size // 4}*max(0,1-(t-{start})/{FADE * 2})",
                    alpha=f"max(0,min(1,min((t-{start})/{FADE},({end}-t)/{FADE})))",
                    enable=f"between(t,{start},{end})",
                )
        margin = round(min(width, height) * 0.04)
        return video.filter(
            "drawtext",
            **drawtext_text("Local preview"),
            font=filter_value(FONT),
            fontsize=max(10, size // 3),
            fontcolor="white@0.6",
            x=f"w-text_w-{margin}",
            y=f"h-text_h-{margin}",
        )

    @staticmethod
    def pad(seconds: int):
        """A soft, slowly swelling chord, faded in and out."""
        tones = "+".join(f"{0.5**index:.3f}*sin(2*PI*{freq}*t)" for index, freq in enumerate(CHORD))
        audio = ffmpeg.input(f"anullsrc=r={SAMPLE_RATE}:cl=stereo", f="lavfi").audio
        audio = audio.filter("aeval", exprs=f"0.05*({tones})*(0.8+0.2*sin(2*PI*0.25*t))", c="same")
        audio = audio.filter("aformat", sample_rates=SAMPLE_RATE, channel_layouts="stereo")
        audio = audio.filter("afade", t="in", st=0, d=0.5).filter("afade", t="out", st=max(0, seconds - 1), d=1)
        return audio.filter("atrim", end=seconds)
