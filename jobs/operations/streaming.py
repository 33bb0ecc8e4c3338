"""hls and dash: an adaptive bitrate ladder (H.264 + AAC) made from one video, stored as one folder asset.

Every rung is cut at the same instants (a fixed GOP, a keyframe forced every `segment_seconds`, no scene-cut
keyframes), so a player can switch rungs at any segment boundary. Two ways to make the ladder (`strategy`):

- single: one FFmpeg process decodes the source once and `split`s it into one scaled encode per rung;
- parallel: one FFmpeg process per rung, side by side, each decoding the source itself; their master playlists
  (or manifests) are merged into one.

`auto` runs AUTO_STRATEGY, chosen by measuring both with bench/hls_ladder.py (docs/benchmarks.md)."""

import re
import threading
import time
import xml.etree.ElementTree as ET
from abc import abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import ffmpeg
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_serializer, model_validator

from jobs.ffmpeg.errors import Cancelled, MediaError
from jobs.ffmpeg.runner import run_ffmpeg
from jobs.operations.base import FieldError, Operation, Outcome, OutputFolder, Params
from jobs.operations.transcode import BITRATE_PATTERN, Preset

# Named rungs: picture height → default H.264 video and AAC audio bitrates (kbit/s).
NAMED = {"1080p": (1080, 5000, 128), "720p": (720, 2800, 128), "480p": (480, 1400, 128), "360p": (360, 800, 96)}
NAMED["240p"] = (240, 400, 64)
NAME_OF_HEIGHT = {height: name for name, (height, _, _) in NAMED.items()}
DEFAULT_RENDITIONS = ["1080p", "720p", "480p", "360p"]
# Default video bitrates of other heights are interpolated between these (height, kbit/s) points.
VIDEO_KBPS = [(240, 400), (360, 800), (480, 1400), (720, 2800), (1080, 5000), (1440, 8000), (2160, 14000)]
MAXRATE, BUFSIZE = 1.1, 1.5  # capped VBR: peak rate and VBV buffer as multiples of the target bitrate
# What `auto` runs, measured by bench/hls_ladder.py on 2 cores (docs/benchmarks.md): one process that decodes
# once was the fastest on a cheap source (720p H.264: 1.15x ahead of one process per rung, run side by side or
# one after another) and on an expensive one (4K HEVC: 1.6x ahead), and used the least CPU on both. One process
# per rung can only pay off where a single process cannot fill the cores; re-run the bench there first.
AUTO_STRATEGY = "single"
MASTER = {"hls": "master.m3u8", "dash": "manifest.mpd"}
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
ET.register_namespace("", MPD_NS)
ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


class Rendition(BaseModel):
    """One rung: a name ("720p") or an object; names and heights that match a name echo back as the name."""

    model_config = ConfigDict(extra="forbid")
    height: int = Field(ge=144, le=4320, multiple_of=2, description="Picture height; the width keeps the aspect.")
    video_bitrate: str | None = Field(None, pattern=BITRATE_PATTERN, description="e.g. 2800k; default by height.")
    audio_bitrate: str | None = Field(None, pattern=BITRATE_PATTERN, description="e.g. 128k; default by height.")

    @model_validator(mode="before")
    @classmethod
    def _named(cls, value):
        if isinstance(value, str):
            if value not in NAMED:
                raise ValueError(
                    f"unknown rendition {value!r}: use {', '.join(NAMED)} or an object "
                    "{height, video_bitrate, audio_bitrate}"
                )
            return {"height": NAMED[value][0]}
        return value

    @model_serializer(mode="wrap")
    def _as_name(self, handler):
        if self.video_bitrate is None and self.audio_bitrate is None and self.height in NAME_OF_HEIGHT:
            return NAME_OF_HEIGHT[self.height]
        return handler(self)


RenditionItem = Annotated[
    Rendition,
    WithJsonSchema({"anyOf": [{"type": "string", "enum": list(NAMED)}, Rendition.model_json_schema()]}),
]


class LadderParams(Params):
    renditions: list[RenditionItem] = Field(
        DEFAULT_RENDITIONS,
        min_length=1,
        max_length=6,
        validate_default=True,
        description="Rungs, by name or {height, video_bitrate?, audio_bitrate?}; rungs taller than the source "
        "are dropped (if all are, one is made at the source's height).",
    )
    segment_seconds: int = Field(4, ge=1, le=30, description="Segment length; every rung has a keyframe there.")
    preset: Preset = Field("veryfast", description="x264 speed preset.")
    audio_bitrate: str | None = Field(None, pattern=BITRATE_PATTERN, description="AAC bitrate of every rung.")
    strategy: Literal["auto", "single", "parallel"] = Field(
        "auto", description="single: one FFmpeg decodes once and splits; parallel: one FFmpeg per rung."
    )

    @model_validator(mode="after")
    def _distinct(self):
        heights = [rendition.height for rendition in self.renditions]
        for height in heights:
            if heights.count(height) > 1:
                raise FieldError("renditions", f"two renditions are {height} pixels tall")
        return self


class HlsParams(LadderParams):
    segment_type: Literal["ts", "fmp4"] = Field("ts", description="MPEG-TS segments, or fragmented MP4 (CMAF).")


class DashParams(LadderParams):
    pass


# --- the ladder ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    height: int
    video_bps: int
    audio_bps: int

    @property
    def name(self) -> str:
        return f"{self.height}p"


def bits(rate: str) -> int:
    """'2800k' → 2800000 bit/s."""
    unit = {"k": 1000, "m": 1_000_000}.get(rate[-1].lower())
    return round(float(rate[:-1]) * unit) if unit else round(float(rate))


def default_video_kbps(height: int) -> int:
    (low, low_rate), *_ = VIDEO_KBPS
    if height <= low:
        return round(low_rate * height / low)
    for (h0, r0), (h1, r1) in zip(VIDEO_KBPS, VIDEO_KBPS[1:], strict=False):
        if height <= h1:
            return round(r0 + (r1 - r0) * (height - h0) / (h1 - h0))
    top, top_rate = VIDEO_KBPS[-1]
    return round(top_rate * height / top)


def default_audio_kbps(height: int) -> int:
    return 128 if height >= 480 else 96 if height >= 360 else 64


def to_rung(rendition: Rendition, params: LadderParams) -> Rung:
    video = bits(rendition.video_bitrate) if rendition.video_bitrate else default_video_kbps(rendition.height) * 1000
    audio_rate = rendition.audio_bitrate or params.audio_bitrate
    audio = bits(audio_rate) if audio_rate else default_audio_kbps(rendition.height) * 1000
    return Rung(rendition.height, video, audio)


def plan_ladder(params: LadderParams, source_height: int) -> tuple[list[Rung], list[str]]:
    """The rungs to make, tallest first, and the names of those dropped for being taller than the source."""
    ordered = sorted(params.renditions, key=lambda rendition: -rendition.height)
    kept = [to_rung(r, params) for r in ordered if r.height <= source_height]
    dropped = [to_rung(r, params).name for r in ordered if r.height > source_height]
    if not kept:  # every rung would upscale: one rung at the source's own (even) height
        kept = [to_rung(ordered[-1].model_copy(update={"height": source_height - source_height % 2}), params)]
    return kept, dropped


def display_size(asset) -> tuple[int, int, Fraction]:
    """Width, height and pixel aspect of the picture as FFmpeg outputs it (rotation metadata applied)."""
    stream = next((s for s in (asset.probe or {}).get("streams", []) if s.get("codec_type") == "video"), {})
    width, height = asset.width or stream.get("width") or 0, asset.height or stream.get("height") or 0
    num, _, den = (stream.get("sample_aspect_ratio") or "1:1").partition(":")
    sar = Fraction(int(num), int(den)) if num.isdigit() and den.isdigit() and int(num) and int(den) else Fraction(1)
    rotation = stream.get("tags", {}).get("rotate") or next(
        (side.get("rotation") for side in stream.get("side_data_list", []) if "rotation" in side), 0
    )
    if int(float(rotation)) % 180:
        return height, width, 1 / sar
    return width, height, sar


# --- FFmpeg commands ---------------------------------------------------------------------------------------


@dataclass
class Source:
    """What a ladder command needs to know about its input."""

    path: Path
    input_options: dict
    fps: float | None
    has_audio: bool
    dar: Fraction  # display aspect ratio, kept exact in DASH (its adaptation sets need one aspect)


def encode_args(source: Source, rungs: list[Rung], params: LadderParams, audio_rates: list[int], exact_dar: bool):
    """The streams and options of one encode: every rung from one decode (split), H.264 on aligned keyframes,
    then one AAC stream per entry of `audio_rates`."""
    stream = ffmpeg.input(str(source.path), **source.input_options)
    video = stream["v:0"]
    branches = (
        [video]
        if len(rungs) == 1
        else [video.filter_multi_output("split", len(rungs)).stream(i) for i in range(len(rungs))]
    )
    aspect = ("setdar", f"{source.dar.numerator}/{source.dar.denominator}") if exact_dar else ("setsar", "1")
    streams = [
        branch.filter("scale", w="round(oh*dar/2)*2", h=rung.height).filter(*aspect)
        for branch, rung in zip(branches, rungs, strict=True)
    ]
    gop = max(1, round(params.segment_seconds * (source.fps or 30)))
    options = {
        "c:v": "libx264",
        "preset": params.preset,
        "pix_fmt": "yuv420p",
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": 0,
        "force_key_frames": f"expr:gte(t,n_forced*{params.segment_seconds})",
    }
    for index, rung in enumerate(rungs):
        options[f"b:v:{index}"] = rung.video_bps
        options[f"maxrate:v:{index}"] = round(rung.video_bps * MAXRATE)
        options[f"bufsize:v:{index}"] = round(rung.video_bps * BUFSIZE)
    if audio_rates:
        streams += [stream["a:0"]] * len(audio_rates)
        options["c:a"] = "aac"
        options.update({f"b:a:{index}": rate for index, rate in enumerate(audio_rates)})
    return streams, options


def hls_args(source: Source, rungs: list[Rung], params: HlsParams, out: Path, master: str) -> list[str]:
    """One FFmpeg run writing `out/<rung>/index.m3u8` and its segments per rung, and `out/<master>`."""
    audio = [rung.audio_bps for rung in rungs] if source.has_audio else []
    streams, options = encode_args(source, rungs, params, audio, exact_dar=False)
    extension = "m4s" if params.segment_type == "fmp4" else "ts"
    variants = [f"v:{i},a:{i},name:{r.name}" if audio else f"v:{i},name:{r.name}" for i, r in enumerate(rungs)]
    options |= {
        "f": "hls",
        "hls_time": params.segment_seconds,
        "hls_playlist_type": "vod",
        "hls_flags": "independent_segments",
        "hls_segment_type": "fmp4" if params.segment_type == "fmp4" else "mpegts",
        "hls_segment_filename": str(out / "%v" / f"seg_%05d.{extension}"),
        "master_pl_name": master,
        "var_stream_map": " ".join(variants),
    }
    if params.segment_type == "fmp4":
        options["hls_fmp4_init_filename"] = "init.mp4"
    return ffmpeg.output(*streams, str(out / "%v" / "index.m3u8"), **options).get_args()


def dash_args(source: Source, rungs: list[Rung], params: DashParams, out: Path, audio_rates: list[int]) -> list[str]:
    """One FFmpeg run writing `out/manifest.mpd` (a video and an audio adaptation set) and its segments."""
    streams, options = encode_args(source, rungs, params, audio_rates, exact_dar=True)
    options |= {
        "f": "dash",
        "seg_duration": params.segment_seconds,
        "use_template": 1,
        "use_timeline": 1,
        "adaptation_sets": "id=0,streams=v id=1,streams=a" if audio_rates else "id=0,streams=v",
    }
    return ffmpeg.output(*streams, str(out / MASTER["dash"]), **options).get_args()


def distinct(rates: list[int]) -> list[int]:
    return sorted(set(rates), reverse=True)


def ladder_commands(fmt: str, strategy: str, source: Source, rungs: list[Rung], params, out: Path) -> list[list[str]]:
    """The FFmpeg argument lists of a strategy: one for single, one per rung for parallel. Parallel runs write
    into parts that `merge_parts` joins."""
    audio = distinct([rung.audio_bps for rung in rungs]) if source.has_audio else []
    if strategy == "single":
        if fmt == "hls":
            return [hls_args(source, rungs, params, out, MASTER["hls"])]
        return [dash_args(source, rungs, params, out, audio)]
    commands, audio_left = [], list(audio)
    for rung in rungs:
        if fmt == "hls":
            commands.append(hls_args(source, [rung], params, out, f"part-{rung.name}.m3u8"))
        else:  # the first rung with each audio bitrate also encodes the audio at that rate
            own = [rate for rate in audio_left if rate == rung.audio_bps]
            audio_left = [rate for rate in audio_left if rate not in own]
            (out / rung.name).mkdir(parents=True, exist_ok=True)  # the dash muxer makes no folders
            commands.append(dash_args(source, [rung], params, out / rung.name, own))
    return commands


def merge_parts(fmt: str, rungs: list[Rung], out: Path) -> None:
    """Join the per-rung playlists or manifests of a parallel run into one master, in rung order."""
    if fmt == "hls":
        parts = [out / f"part-{rung.name}.m3u8" for rung in rungs]
        texts = [part.read_text().splitlines() for part in parts]
        lines = []
        for text in texts:
            first = next(i for i, line in enumerate(text) if line.startswith("#EXT-X-STREAM-INF"))
            lines = lines or text[:first]  # the header (#EXTM3U, #EXT-X-VERSION) is the same in every part
            lines += [line for line in text[first:] if line.strip()] + [""]
        (out / MASTER["hls"]).write_text("\n".join(lines) + "\n")
        for part in parts:
            part.unlink()
        return
    tree = parse_mpd(out / rungs[0].name / MASTER["dash"])
    sets = {aset.get("contentType"): aset for aset in tree.getroot().iter(f"{{{MPD_NS}}}AdaptationSet")}
    for aset in sets.values():
        for rep in aset.findall(f"{{{MPD_NS}}}Representation"):
            aset.remove(rep)
    for rung in rungs:
        part = out / rung.name / MASTER["dash"]
        for aset in parse_mpd(part).getroot().iter(f"{{{MPD_NS}}}AdaptationSet"):
            for rep in aset.findall(f"{{{MPD_NS}}}Representation"):
                template = rep.find(f"{{{MPD_NS}}}SegmentTemplate")
                for name in ("initialization", "media"):  # freeze the part's own id: ids are renumbered below
                    template.set(name, f"{rung.name}/{template.get(name).replace('$RepresentationID$', rep.get('id'))}")
                sets[aset.get("contentType")].append(rep)
        part.unlink()
    for index, rep in enumerate(tree.getroot().iter(f"{{{MPD_NS}}}Representation")):
        rep.set("id", str(index))
    tree.write(out / MASTER["dash"], xml_declaration=True, encoding="utf-8")


# --- reading the outputs back ------------------------------------------------------------------------------


def parse_mpd(path: Path) -> ET.ElementTree:
    """A manifest our own FFmpeg run just wrote (never a user's file)."""
    return ET.parse(path)  # noqa: S314 (trusted: written by us)


_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def read_master(path: Path) -> list[dict]:
    """The variants of an HLS master playlist: their attributes (BANDWIDTH, RESOLUTION, CODECS) and uri."""
    variants, lines = [], path.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = {key: value.strip('"') for key, value in _ATTRIBUTE.findall(line.split(":", 1)[1])}
            uri = next(following for following in lines[index + 1 :] if following and not following.startswith("#"))
            variants.append({**attributes, "uri": uri})
    return variants


def read_variant(path: Path) -> tuple[str | None, list[tuple[float, str]]]:
    """An HLS media playlist's init segment (EXT-X-MAP, fmp4 only) and its (duration, uri) segments."""
    init, segments, duration = None, [], 0.0
    for line in path.read_text().splitlines():
        if line.startswith("#EXT-X-MAP:"):
            init = dict(_ATTRIBUTE.findall(line.split(":", 1)[1]))["URI"].strip('"')
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#"):
            segments.append((duration, line))
    return init, segments


def iso_seconds(value: str) -> float:
    """'PT1M5.2S' → 65.2."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", value or "")
    if not match:
        return 0.0
    hours, minutes, seconds = (float(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def read_mpd(path: Path) -> list[dict]:
    """The representations of a manifest: kind, id, size, bandwidth, codecs, files and segment count."""
    reps = []
    for aset in parse_mpd(path).getroot().iter(f"{{{MPD_NS}}}AdaptationSet"):
        for rep in aset.findall(f"{{{MPD_NS}}}Representation"):
            template = rep.find(f"{{{MPD_NS}}}SegmentTemplate")
            timeline = template.findall(f"{{{MPD_NS}}}SegmentTimeline/{{{MPD_NS}}}S")
            rid, number = rep.get("id"), int(template.get("startNumber", "1"))
            media = template.get("media").replace("$RepresentationID$", rid)
            first = re.sub(r"\$Number%0(\d+)d\$", lambda m, n=number: f"{n:0{m.group(1)}d}", media)
            reps.append(
                {
                    "kind": aset.get("contentType"),
                    "id": rid,
                    "width": int(rep.get("width", 0)),
                    "height": int(rep.get("height", 0)),
                    "bandwidth": int(rep.get("bandwidth", 0)),
                    "codecs": rep.get("codecs", ""),
                    "init": template.get("initialization").replace("$RepresentationID$", rid),
                    "first": first,
                    "segments": sum(1 + int(s.get("r", "0")) for s in timeline),
                }
            )
    return reps


def joined(parts: list[Path], target: Path) -> Path:
    """An init segment and a media segment as one file ffprobe can read."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    return target


# --- running ---------------------------------------------------------------------------------------------


def run_side_by_side(ctx, commands: list[list[str]], *, duration: float | None, stage: str, span) -> None:
    """Run FFmpeg processes at once through the runner; the job's progress is their mean. A cancel, a timeout
    or one failure stops them all."""
    low, high = span
    ctx.set_stage(stage, progress=low)
    stop, progress, failures = threading.Event(), {}, []
    remaining = settings.MEDIAHUB_JOB_TIMEOUT - (time.monotonic() - ctx.started)
    interval = settings.MEDIAHUB_PROGRESS_INTERVAL

    def work(index: int, args: list[str]) -> None:
        def tick(state) -> bool:
            progress[index] = state.percent
            return not stop.is_set()

        try:
            done = run_ffmpeg(args, duration=duration, tick=tick, timeout=remaining, interval=interval)
            if duration and done.out_seconds < duration - max(0.5, 0.05 * duration):
                raise MediaError("input_truncated", f"The input ended after {done.out_seconds:.2f} s.")
        except BaseException as exc:  # noqa: BLE001 (handed to the job's thread)
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=work, args=item, daemon=True) for item in enumerate(commands)]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            threads[0].join(timeout=interval)
            mean = sum(progress.values()) / len(commands)
            ctx.set_stage(stage, progress=max(round(low + (high - low) * mean / 100, 1), ctx.job.progress or 0))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if failures:  # the first real failure, not the cancels it caused in the other processes
        raise next((exc for exc in failures if not isinstance(exc, Cancelled)), failures[0])


class Ladder(Operation):
    format: ClassVar[str]

    def run(self, ctx, params: LadderParams) -> Outcome:
        asset = ctx.inputs[0]
        self.require_video(asset)
        width, height, sar = display_size(asset)
        rungs, dropped = plan_ladder(params, height)
        # With one rung both strategies are the same single process.
        strategy = AUTO_STRATEGY if params.strategy == "auto" or len(rungs) == 1 else params.strategy
        source = Source(
            path=ctx.local_path(asset),
            input_options=ctx.input_options(),
            fps=asset.fps,
            has_audio=asset.has_audio,
            dar=Fraction(width, height) * sar if width and height else Fraction(16, 9),
        )
        out = ctx.workdir / "ladder"
        out.mkdir(parents=True, exist_ok=True)
        commands = ladder_commands(self.format, strategy, source, rungs, params, out)
        duration = asset.duration or None
        if strategy == "single":
            ctx.ffmpeg(commands[0], duration=duration, stage="encoding", span=(0, 97))
        else:
            run_side_by_side(ctx, commands, duration=duration, stage="encoding", span=(0, 97))
            merge_parts(self.format, rungs, out)
        ctx.set_stage("probing", progress=98)
        folder, result = self.describe(ctx, out, params)
        result |= {"format": self.format, "strategy": strategy, "segment_seconds": params.segment_seconds}
        result |= {"dropped": dropped, "playlist": MASTER[self.format]}
        return Outcome(files=[folder], result=result)

    @abstractmethod
    def describe(self, ctx, out: Path, params) -> tuple[OutputFolder, dict]:
        """The folder asset to store and the `result` figures, read from the written playlists."""


class Hls(Ladder):
    name = "hls"
    format = "hls"
    description = "HLS adaptive ladder: H.264/AAC renditions on aligned segments, a master playlist, one asset."
    params_model = HlsParams

    def describe(self, ctx, out: Path, params: HlsParams) -> tuple[OutputFolder, dict]:
        renditions, top = [], None
        for variant in read_master(out / MASTER["hls"]):
            playlist = out / variant["uri"]
            init, segments = read_variant(playlist)
            width, _, height = variant.get("RESOLUTION", "").partition("x")
            renditions.append(
                {
                    "name": Path(variant["uri"]).parent.name,
                    "width": int(width or 0),
                    "height": int(height or 0),
                    "bandwidth": int(variant.get("BANDWIDTH", 0)),
                    "codecs": variant.get("CODECS", ""),
                    "playlist": variant["uri"],
                    "segments": len(segments),
                }
            )
            if top is None:
                files = [playlist.parent / init] if init else []
                first = playlist.parent / segments[0][1]
                probe = joined([*files, first], ctx.workdir / "probe" / f"top{first.suffix}") if init else first
                top = (probe, sum(seconds for seconds, _ in segments))
        name = f"{ctx.stem(ctx.inputs[0])}.m3u8"
        folder = OutputFolder(out, MASTER["hls"], name, probes=[top[0]], duration=round(top[1], 3))
        return folder, {"renditions": renditions, "segment_type": params.segment_type}


class Dash(Ladder):
    name = "dash"
    format = "dash"
    description = "MPEG-DASH adaptive ladder: H.264/AAC representations on aligned segments, an MPD, one asset."
    params_model = DashParams

    def describe(self, ctx, out: Path, params: DashParams) -> tuple[OutputFolder, dict]:
        manifest = out / MASTER["dash"]
        reps = read_mpd(manifest)
        video = [rep for rep in reps if rep["kind"] == "video"]
        audio = [rep for rep in reps if rep["kind"] == "audio"]
        probes = [
            joined([out / rep["init"], out / rep["first"]], ctx.workdir / "probe" / f"{rep['kind']}.mp4")
            for rep in (video[:1] + audio[:1])
        ]
        duration = iso_seconds(parse_mpd(manifest).getroot().get("mediaPresentationDuration", ""))
        renditions = [
            {
                "name": f"{rep['height']}p",
                "width": rep["width"],
                "height": rep["height"],
                "bandwidth": rep["bandwidth"],
                "codecs": rep["codecs"],
                "segments": rep["segments"],
            }
            for rep in video
        ]
        audio_out = [{"bandwidth": rep["bandwidth"], "codecs": rep["codecs"]} for rep in audio]
        folder = OutputFolder(out, MASTER["dash"], f"{ctx.stem(ctx.inputs[0])}.mpd", probes, duration or None)
        return folder, {"renditions": renditions, "audio": audio_out}
