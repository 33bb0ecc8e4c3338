"""quality: PSNR, SSIM (and VMAF where FFmpeg has libvmaf) of a video against a reference, in one FFmpeg run."""

import json
import math
import re
import statistics
from pathlib import Path
from typing import Literal

import ffmpeg
from pydantic import Field, model_validator

from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.filtergraph import available_filters, filter_path
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile, Params

Metric = Literal["psnr", "ssim", "vmaf"]

# FFmpeg gives identical frames an infinite PSNR; JSON has no infinity, so every per-frame PSNR is capped here.
PSNR_CAP = 100.0
# Pixel formats compared as they are; any other reference format is compared as yuv420p.
NATIVE_PIX_FMTS = {"yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le"}
STAT = re.compile(r"(?P<key>\w+):(?P<value>\S+)")
LOG_NAMES = {"psnr": "psnr.log", "ssim": "ssim.log", "vmaf": "vmaf.json"}


def vmaf_available() -> bool:
    return "libvmaf" in available_filters()


class QualityParams(Params):
    reference: str = Field(..., max_length=32, description="The reference (original) video asset's id.")
    metrics: list[Metric] = Field(["psnr", "ssim"], min_length=1, description="vmaf needs FFmpeg with libvmaf.")

    @model_validator(mode="after")
    def _metrics(self):
        if len(set(self.metrics)) != len(self.metrics):
            raise FieldError("metrics", "name each metric once")
        if "vmaf" in self.metrics and not vmaf_available():
            raise FieldError("metrics", "vmaf is not available: this FFmpeg build has no libvmaf; use psnr or ssim")
        return self


# --- the filter graph ------------------------------------------------------------------------------------


def prepared(stream, pix_fmt: str, size: tuple[int, int] | None = None):
    """Same size, pixel format and a time base starting at 0 on both sides, so frames pair up by timestamp."""
    if size:
        stream = stream.filter("scale", w=size[0], h=size[1], flags="bicubic")
    stream = stream.filter("setsar", "1").filter("format", pix_fmt)
    return stream.filter("settb", "AVTB").filter("setpts", "PTS-STARTPTS")


def metric_filter(metric: str, distorted, reference, log: Path):
    """The comparing filter (main input first, reference second); it stops with the shorter input."""
    if metric == "vmaf":
        return ffmpeg.filter([distorted, reference], "libvmaf", log_fmt="json", log_path=filter_path(log), shortest=1)
    return ffmpeg.filter([distorted, reference], metric, stats_file=filter_path(log), shortest=1)


# --- reading the stats -----------------------------------------------------------------------------------


def frame_stats(path: Path) -> list[dict[str, float]]:
    """One dict per line of a psnr/ssim stats file (`n:1 mse_avg:0.5 psnr_avg:51.2 …`); `inf` stays inf."""
    frames = []
    for line in path.read_text(errors="replace").splitlines():
        values = {}
        for match in STAT.finditer(line):
            try:
                values[match["key"]] = float(match["value"])
            except ValueError:
                continue
        if values:
            frames.append(values)
    return frames


def column(frames: list[dict[str, float]], key: str, cap: float = math.inf) -> list[float]:
    return [min(frame[key], cap) for frame in frames if key in frame]


def summary(frames: list[dict[str, float]], key: str, planes: dict[str, str], digits: int, cap: float = math.inf):
    """mean/min/max of `key` over the frames, and the mean of each plane's column (`{"y": "psnr_y", …}`)."""
    values = column(frames, key, cap)
    figures = {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}
    figures |= {name: statistics.fmean(col) for name, source in planes.items() if (col := column(frames, source, cap))}
    return {name: round(value, digits) for name, value in figures.items()} | {"frames": len(frames)}


def psnr_result(frames: list[dict[str, float]]) -> dict:
    planes = {plane: f"psnr_{plane}" for plane in "yuv"}
    identical = all(math.isinf(frame.get("psnr_avg", 0)) for frame in frames)
    return summary(frames, "psnr_avg", planes, 4, cap=PSNR_CAP) | {"identical": identical}


def ssim_result(frames: list[dict[str, float]]) -> dict:
    return summary(frames, "All", {"y": "Y", "u": "U", "v": "V"}, 6)


def vmaf_result(path: Path) -> dict:
    """libvmaf's pooled VMAF from its JSON log."""
    pooled = json.loads(path.read_text()).get("pooled_metrics", {}).get("vmaf", {})
    return {key: round(pooled[key], 4) for key in ("mean", "min", "max") if key in pooled}


def compared_pix_fmt(probe: dict) -> str:
    """The reference's pixel format when both filters compare it natively, else yuv420p."""
    streams = [s for s in probe.get("streams", []) if s.get("codec_type") == "video"]
    pix_fmt = streams[0].get("pix_fmt") if streams else None
    return pix_fmt if pix_fmt in NATIVE_PIX_FMTS else "yuv420p"


def metric_result(metric: str, log: Path) -> dict:
    if metric == "vmaf":
        return vmaf_result(log)
    frames = frame_stats(log) if log.exists() else []
    if not frames:
        raise MediaError("no_frames_compared", "No frames were compared: the inputs gave no overlapping frames.")
    return psnr_result(frames) if metric == "psnr" else ssim_result(frames)


class Quality(Operation):
    name = "quality"
    description = "Compare a video with its reference: PSNR and SSIM per frame and overall (VMAF with libvmaf)."
    params_model = QualityParams
    asset_params = {"reference": ("video",)}

    def capabilities(self) -> dict:
        return {"vmaf": vmaf_available()}

    def run(self, ctx, params: QualityParams) -> Outcome:
        distorted, reference = ctx.inputs[0], ctx.param_asset("reference")
        self.require_video(distorted)
        self.require_video(reference)
        pix_fmt = compared_pix_fmt(reference.probe or {})
        main = prepared(
            ffmpeg.input(str(ctx.local_path(distorted)), **ctx.input_options()).video,
            pix_fmt,
            (reference.width, reference.height),
        )
        ref = prepared(ffmpeg.input(str(ctx.local_path(reference)), **ctx.input_options()).video, pix_fmt)
        mains, refs = main.split(), ref.split()
        logs = {metric: ctx.output_path(LOG_NAMES[metric]) for metric in params.metrics}
        compared = [metric_filter(m, mains[i], refs[i], logs[m]) for i, m in enumerate(params.metrics)]
        args = ffmpeg.output(*compared, "-", format="null").get_args()
        durations = [d for d in (distorted.duration, reference.duration) if d]
        ctx.ffmpeg(args, duration=min(durations, default=None), stage="comparing")

        result = {"pix_fmt": pix_fmt, "width": reference.width, "height": reference.height}
        for metric, log in logs.items():
            result[metric] = metric_result(metric, log)
        files = [OutputFile(log, f"{ctx.stem(distorted)}-{log.name}") for log in logs.values()]
        return Outcome(files=files, result=result)
