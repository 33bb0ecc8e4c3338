"""One FFmpeg process per HLS ladder (decode once, `split`) against one process per rendition.

Generates two sources with lavfi (testsrc2 + sine): a 1280x720 30 fps H.264/AAC clip (cheap to decode) and a
3840x2160 25 fps HEVC/AAC clip (expensive to decode). On each it makes the same ladder
(720p/480p/360p, 4 s segments, x264 veryfast: the canonical example) three ways, with the exact FFmpeg commands
the `hls` operation builds (jobs/operations/streaming.py):

  single      one process: decode once, split into three scaled encodes
  sequential  one process per rendition, one after another
  parallel    one process per rendition, side by side (what strategy "parallel" runs)

Runs alternate the order of the strategies; each figure is the median of `--runs`. The outputs of the three
are checked to be equivalent (same variants, codecs, segment counts and durations). Prints the times, the
ratios to the fastest, which strategy `auto` picks (jobs.operations.streaming.AUTO_STRATEGY) and that pick's
ratio to the fastest (target: at most 1.05x). Also prints the CPU seconds other processes used during each
run, and marks with * the runs where they used more than 5 % of the machine: on a shared machine those
figures are noisy.

Run it with `.venv/bin/python bench/hls_ladder.py [--runs 3] [--keep]`.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARAMS = {"renditions": ["720p", "480p", "360p"], "segment_seconds": 4, "preset": "veryfast"}
STRATEGIES = ("single", "sequential", "parallel")
SOURCES = {
    "720p H.264": ("1280x720", 30, 24, ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60"]),
    "4K HEVC": ("3840x2160", 25, 8, ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]),
}
TICK = os.sysconf("SC_CLK_TCK")


def setup_django(data_dir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
    os.environ["MEDIAHUB_DATA_DIR"] = str(data_dir)
    import django

    django.setup()


def make_source(path: Path, size: str, rate: int, seconds: int, codec: list[str]) -> None:
    subprocess.run(
        [
            *["ffmpeg", "-hide_banner", "-v", "error", "-nostdin", "-y"],
            *["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"],
            *["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"],
            *codec,
            *["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)],
        ],
        check=True,
    )


def probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def busy_seconds() -> float:
    """CPU seconds spent by everything on the machine since boot."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / TICK


def children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def run_strategy(strategy: str, source, rungs, params, out: Path) -> dict:
    """Run one strategy's commands as the operation would (the runner's global args), timed."""
    from jobs.ffmpeg.runner import GLOBAL_ARGS
    from jobs.operations.streaming import ladder_commands, merge_parts

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    commands = ladder_commands("hls", "single" if strategy == "single" else "parallel", source, rungs, params, out)
    commands = [["ffmpeg", *GLOBAL_ARGS, *args] for args in commands]
    busy0, ours0, start = busy_seconds(), children_cpu(), time.monotonic()
    if strategy == "parallel":
        procs = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) for cmd in commands]
        codes = [proc.wait() for proc in procs]
    else:
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
        codes = [subprocess.run(cmd, **quiet, check=False).returncode for cmd in commands]
    wall = time.monotonic() - start
    ours = children_cpu() - ours0
    if any(codes):
        raise SystemExit(f"{strategy}: FFmpeg failed ({codes})")
    if strategy != "single":
        merge_parts("hls", rungs, out)
    return {"wall": wall, "cpu": ours, "others": max(0.0, busy_seconds() - busy0 - ours)}


def ladder_of(out: Path) -> list[tuple]:
    """What makes two ladders equivalent: per variant its resolution, codecs, and segment durations."""
    from jobs.operations.streaming import read_master, read_variant

    ladder = []
    for variant in read_master(out / "master.m3u8"):
        _, segments = read_variant(out / variant["uri"])
        durations = tuple(round(seconds, 2) for seconds, _ in segments)
        ladder.append((variant["uri"], variant["RESOLUTION"], variant["CODECS"], len(segments), durations))
    return ladder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each strategy per source (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (sources and outputs)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mediahub-hls-bench-"))
    try:
        setup_django(workdir / "data")
        from jobs.ffmpeg.inputs import input_options
        from jobs.operations.streaming import AUTO_STRATEGY, HlsParams, Source, plan_ladder

        params = HlsParams.model_validate(PARAMS)
        print(f"ladder: {json.dumps(PARAMS)}; {os.cpu_count()} cores, Python {platform.python_version()}")
        verdicts = []
        for label, (size, rate, seconds, codec) in SOURCES.items():
            path = workdir / f"{label.replace(' ', '-')}.mkv"
            began = time.monotonic()
            make_source(path, size, rate, seconds, codec)
            info = probe(path)
            video = next(s for s in info["streams"] if s["codec_type"] == "video")
            print(
                f"\n{label}: {seconds} s {size} {rate} fps {video['codec_name']}/AAC, "
                f"{path.stat().st_size / 2**20:.1f} MiB (made in {time.monotonic() - began:.0f} s)",
                flush=True,
            )
            width, height = video["width"], video["height"]
            source = Source(path, input_options(), rate, True, Fraction(width, height))
            rungs, _ = plan_ladder(params, height)
            times: dict[str, list[dict]] = {strategy: [] for strategy in STRATEGIES}
            ladders = {}
            for run in range(args.runs):
                order = STRATEGIES[run % 3 :] + STRATEGIES[: run % 3]  # rotate who goes first
                for strategy in order:
                    result = run_strategy(strategy, source, rungs, params, workdir / "out" / strategy)
                    times[strategy].append(result)
                    ladders[strategy] = ladder_of(workdir / "out" / strategy)
                    # Others' CPU above 5 % of the machine meanwhile: marked, the figure is disturbed.
                    mark = "*" if result["others"] > 0.05 * result["wall"] * (os.cpu_count() or 1) else " "
                    print(
                        f"  run {run + 1} {strategy:<10} {result['wall']:6.2f} s{mark} "
                        f"(FFmpeg CPU {result['cpu']:5.1f} s, others {result['others']:5.1f} CPU-s)",
                        flush=True,
                    )
            same = all(ladders[strategy] == ladders["single"] for strategy in STRATEGIES)
            first = ladders["single"]
            print(
                f"  outputs equivalent: {'yes' if same else 'NO'} "
                f"({len(first)} variants: {', '.join(v[1] for v in first)}; {first[0][3]} segments each)"
            )
            if not same:
                for strategy in STRATEGIES:
                    print(f"    {strategy}: {ladders[strategy]}")
            medians = {strategy: statistics.median(r["wall"] for r in times[strategy]) for strategy in STRATEGIES}
            fastest = min(medians, key=medians.get)
            print("  | strategy | median (s) | vs fastest | FFmpeg CPU-s (median) |")
            print("  |---|---|---|---|")
            for strategy in STRATEGIES:
                cpu = statistics.median(r["cpu"] for r in times[strategy])
                ratio = medians[strategy] / medians[fastest]
                print(f"  | {strategy} | {medians[strategy]:.2f} | {ratio:.3f}x | {cpu:.1f} |")
            ratio = medians[AUTO_STRATEGY] / medians[fastest]
            verdict = "within" if ratio <= 1.05 else "OVER"
            print(f"  fastest: {fastest}; auto picks {AUTO_STRATEGY}: {ratio:.3f}x it ({verdict} the 1.05x target)")
            verdicts.append(same and ratio <= 1.05)
        return 0 if all(verdicts) else 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
