"""Overhead of a MediaHub transcode job over running the same FFmpeg command by hand.

Generates a 30 s 1080p30 H.264/AAC clip, starts its own MediaHub (`manage.py serve`: uvicorn + the django-q2
cluster, embedded SQLite, a temp data dir, a free port), then for each run times, side by side:

  bare  the exact FFmpeg command the job runs (same arguments; only the input and output paths differ), with
        the MediaHub processes stopped (SIGSTOP) meanwhile so that their idle polling costs it nothing
  job   POST /api/v1/jobs → poll GET /api/v1/jobs/{id} until succeeded, as a client sees it; the upload
        before it is timed separately, and the job's own FFmpeg process is timed from /proc, which splits the
        job's time into FFmpeg and the overhead before and after it

Each measurement waits for a quiet machine and is repeated when other processes used more than 5 % of the
machine meanwhile. Prints each run, the medians, the ratio job/bare (the median of the paired runs' ratios,
with the ratio of total times and of the medians beside it) and the overhead outside FFmpeg.
Run it with `make bench` or `.venv/bin/python bench/transcode_overhead.py [--runs 9] [--seconds 30]`;
`--redis-url redis://127.0.0.1:6379/14` runs MediaHub with the Redis broker (give it a database of its own).
"""

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# The job: MP4, H.264 720p, quality medium (CRF 23, AAC 128k), x264 preset medium: MediaHub's defaults.
PARAMS = {"format": "mp4", "video_codec": "h264", "resolution": "720p", "quality": "medium", "preset": "medium"}

# What jobs/ffmpeg/runner.py adds to every run, and what jobs/ffmpeg/inputs.py puts before every user input.
GLOBAL_ARGS = ["-hide_banner", "-nostdin", "-y", "-v", "warning", "-nostats", "-progress", "pipe:1"]


def input_args() -> list[str]:
    """`-format_whitelist` (the demuxer allow-list) and `-protocol_whitelist file`, read from the project's
    jobs/ffmpeg/inputs.py (plain Python, no Django), sorted by name as ffmpeg-python writes them."""
    sys.path.insert(0, str(ROOT))
    try:
        from jobs.ffmpeg.inputs import input_options
    except ImportError:
        return ["-protocol_whitelist", "file"]
    finally:
        sys.path.remove(str(ROOT))
    return [arg for name, value in sorted(input_options().items()) for arg in (f"-{name}", value)]


def bare_command(source: Path, output: Path) -> list[str]:
    """The argument list jobs/operations/transcode.py builds (via ffmpeg-python, options sorted by name) for
    PARAMS on a landscape source: scale to 720 high with square pixels, libx264 medium CRF 23 yuv420p,
    AAC 128k, faststart."""
    scale = r"[0:v]scale=h=if(gte(iw\,ih)\,720\,-2):w=if(gte(iw\,ih)\,-2\,720)[s0];[s0]setsar=1[s1]"
    return [
        *["ffmpeg", *GLOBAL_ARGS, *input_args(), "-i", str(source)],
        *["-filter_complex", scale, "-map", "[s1]", "-map", "0:a"],
        *["-b:a", "128k", "-c:a", "aac", "-c:v", "libx264", "-crf", "23", "-movflags", "+faststart"],
        *["-pix_fmt", "yuv420p", "-preset", "medium", str(output)],
    ]


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run(
        [
            *["ffmpeg", "-hide_banner", "-v", "error", "-nostdin", "-y"],
            *["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}"],
            *["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"],
            *["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-g", "60"],
            *["-c:a", "aac", "-b:a", "128k", "-shortest", str(path)],
        ],
        check=True,
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- CPU accounting: this machine may be shared, so each measurement says how much CPU others used meanwhile ---
TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds spent by everything on the machine since boot (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / TICK


def idle_fraction(seconds: float) -> float:
    def sample():
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields[:8])

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def session_cpu(sid: int) -> float:
    """CPU seconds of the processes in session `sid`, including the children they reaped (FFmpeg runs)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields from the state on: state ppid pgrp session … utime(11) … cstime(14)
            total += sum(int(x) for x in fields[11:15]) / TICK
    return total


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def wait_for_quiet(max_wait: float = 120, idle: float = 0.85) -> bool:
    """Wait until the machine is mostly idle for two 1 s samples in a row; False when it never was."""
    deadline, quiet = time.monotonic() + max_wait, 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if idle_fraction(1.0) >= idle else 0
        if quiet >= 2:
            return True
    return False


class MediaHub:
    """A private MediaHub: its own data dir and port, embedded SQLite and ORM broker, stopped on exit."""

    def __init__(self, workdir: Path, redis_url: str = ""):
        self.data_dir = workdir / "data"
        self.log_path = workdir / "server.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "MEDIA_ROOT", "MEDIAHUB_WORK_DIR")
        }
        self.env.update(MEDIAHUB_DATA_DIR=str(self.data_dir), MEDIAHUB_ENV="development")
        if redis_url:  # the production broker, channel layer and cache instead of the embedded ones
            self.env["REDIS_URL"] = redis_url
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, timeout: float = 90) -> None:
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("createcachetable")
        log = open(self.log_path, "wb")  # noqa: SIM115 (the server writes it until stop())
        self.proc = subprocess.Popen(
            [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: serve, uvicorn, qcluster and its workers
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"manage.py serve exited ({self.proc.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=5).status_code == 200:
                    return
            time.sleep(0.3)
        raise SystemExit(f"MediaHub was not healthy within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        # serve stops the web server and the cluster itself on SIGTERM; the group is killed only if something lingers.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    @contextlib.contextmanager
    def frozen(self):
        """Stop every process of the server (SIGSTOP) meanwhile, so its idle polling costs the bare run nothing."""
        os.killpg(self.proc.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.proc.pid, signal.SIGCONT)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def api_key(self) -> str:
        return self.manage("createapikey", "bench", "--name", "bench").strip().splitlines()[-1]


def boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class FFmpegWatch(threading.Thread):
    """Times the FFmpeg process a job runs, from /proc: its start time as the kernel recorded it, its end to
    within 10 ms. Its arguments name the job's work dir (`…/job_<id>-…/out/…`), which is how it is found."""

    def __init__(self, job_id: str):
        super().__init__(daemon=True)
        self.needle = f"/{job_id}-".encode()
        self.start_time: float | None = None
        self.end_time: float | None = None
        self.argv: list[str] = []
        self.cpu = 0.0  # FFmpeg's own CPU seconds, as last seen (a zombie still shows its final figures)
        self.done = threading.Event()

    def find(self) -> int | None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"ffmpeg") and any(self.needle in arg for arg in argv):
                self.argv = [arg.decode() for arg in argv if arg]
                return int(entry)
        return None

    @staticmethod
    def stat(pid: int) -> list[str] | None:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return None

    def run(self) -> None:
        pid = None
        while pid is None and not self.done.is_set():
            pid = self.find()
            if pid is None:
                time.sleep(0.02)
        fields = self.stat(pid) if pid else None
        if fields is None:
            return
        self.start_time = int(fields[19]) / TICK  # starttime, in clock ticks since boot
        while (fields := self.stat(pid)) is not None and not self.done.is_set():
            self.cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
            if fields[0] == "Z":
                break
            time.sleep(0.05)
        self.end_time = boottime()


def run_bare(hub: "MediaHub", command: list[str]) -> dict:
    with hub.frozen():
        busy0, ours0, started = busy_seconds(), own_cpu(), time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
    ours = own_cpu() - ours0
    return {"wall": wall, "cpu": ours, "other_cpu": max(0.0, busy_seconds() - busy0 - ours)}


def run_job(client: httpx.Client, hub: "MediaHub", source: Path, timeout: float) -> dict:
    """Upload, then submit and poll until succeeded; returns the timings and the finished job."""
    started = time.perf_counter()
    with open(source, "rb") as fh:
        response = client.post("/api/v1/assets", files={"file": (source.name, fh, "video/mp4")})
    upload = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"upload failed: {response.status_code} {response.text}")
    asset = response.json()

    busy0, ours0 = busy_seconds(), own_cpu() + session_cpu(hub.proc.pid)
    submitted = boottime()
    response = client.post("/api/v1/jobs", json={"operation": "transcode", "input": asset["id"], "params": PARAMS})
    if response.status_code != 202:
        raise SystemExit(f"submit failed: {response.status_code} {response.text}")
    job_id = response.json()["id"]
    watch = FFmpegWatch(job_id)
    watch.start()
    try:
        while True:
            job = client.get(f"/api/v1/jobs/{job_id}").json()
            seen = boottime()
            if job["status"] == "succeeded":
                break
            if job["status"] in ("failed", "cancelled"):
                raise SystemExit(f"job {job_id} {job['status']}: {job['error']}")
            if seen - submitted > timeout:
                raise SystemExit(f"job {job_id} still {job['status']} after {timeout:.0f} s")
            # Poll less often while the encode has far to go, often near its end: few requests, fine resolution.
            eta = job.get("eta_seconds")
            time.sleep(min(0.5, max(0.05, eta / 4)) if eta is not None else 0.1)
    finally:
        watch.done.set()
        watch.join()
    ours = own_cpu() + session_cpu(hub.proc.pid) - ours0
    if watch.start_time is None or watch.end_time is None:
        raise SystemExit(f"job {job_id}: its FFmpeg process was not found in /proc")
    created, begun, finished = (parse_time(job[key]) for key in ("created_at", "started_at", "finished_at"))
    return {
        "upload": upload,
        "wall": seen - submitted,
        "other_cpu": max(0.0, busy_seconds() - busy0 - ours),
        "ffmpeg_cpu": watch.cpu,
        "mediahub_cpu": max(0.0, ours - watch.cpu),  # server, workers and this client, FFmpeg aside
        "ffmpeg": watch.end_time - watch.start_time,
        "before": watch.start_time - submitted,  # request, queue, claim, command
        "after": seen - watch.end_time,  # probe, hash and store the output, finish, the client noticing
        "queued": (begun - created).total_seconds(),
        "output": job["outputs"][0],
        "argv": watch.argv,
    }


def measure(side: str, run, max_attempts: int) -> dict:
    """One side of one run on a quiet machine; repeated when other processes took CPU meanwhile."""
    for attempt in range(1, max_attempts + 1):
        quiet = wait_for_quiet()
        result = run()
        # Others' CPU above 5 % of the machine during the measurement would skew it: measure again.
        disturbed = result["other_cpu"] > 0.05 * result["wall"] * (os.cpu_count() or 1)
        result.update(attempts=attempt, quiet=quiet, disturbed=disturbed)
        if not disturbed:
            return result
        print(
            f"  {side}: others used {result['other_cpu']:.1f} CPU-s during its {result['wall']:.1f} s; "
            + ("measuring again" if attempt < max_attempts else "keeping it (marked *)"),
            flush=True,
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="repetitions of each side (default 9)")
    parser.add_argument("--seconds", type=int, default=30, help="length of the generated clip (default 30)")
    parser.add_argument("--attempts", type=int, default=4, help="tries per measurement disturbed by others")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (clip, outputs, server log)")
    parser.add_argument(
        "--redis-url", default="", help="run MediaHub with this Redis (a database of its own) instead of embedded"
    )
    args = parser.parse_args()
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not on PATH")

    workdir = Path(tempfile.mkdtemp(prefix="mediahub-bench-"))
    hub = MediaHub(workdir, redis_url=args.redis_url)
    try:
        source = workdir / "source-1080p.mp4"
        print(f"generating a {args.seconds} s 1920x1080 30 fps H.264/AAC clip ...", flush=True)
        make_clip(source, args.seconds)
        print(f"  {source.stat().st_size / 2**20:.1f} MiB")
        broker = f"Redis {args.redis_url}" if args.redis_url else "embedded SQLite + ORM broker"
        print(f"starting MediaHub on {hub.base} ({broker}, data dir {hub.data_dir}) ...", flush=True)
        hub.start()
        key = hub.api_key()
        client = httpx.Client(base_url=hub.base, headers={"Authorization": f"Token {key}"}, timeout=120)
        job_timeout = max(600, 20 * args.seconds)
        bare_output = workdir / "bare.mp4"
        command = bare_command(source, bare_output)

        # An untimed first job warms the worker up and shows the command it really runs (read from /proc):
        # the bare runs use exactly that, with our input and output paths.
        print("warm-up job ...", flush=True)
        seen = run_job(client, hub, source, job_timeout)["argv"]
        if "-i" not in seen or len(seen) < 3:
            raise SystemExit(f"could not read the job's FFmpeg command: {seen}")
        seen[seen.index("-i") + 1], seen[-1] = str(source), str(bare_output)
        seen[0] = command[0]
        same = seen == command
        print(f"the job's FFmpeg command {'matches' if same else 'DIFFERS from'} the one built from transcode.py")
        if not same:
            print("  built:", " ".join(command))
            print("  job:  ", " ".join(seen))
        command = seen
        print("bare command:", " ".join(command), flush=True)

        rows = []
        identical = True
        for run in range(1, args.runs + 1):
            # Alternate which side goes first, so neither always gets the warmer cache.
            result = {}
            for side in ("bare", "job") if run % 2 else ("job", "bare"):
                if side == "bare":
                    result[side] = measure(side, lambda: run_bare(hub, command), args.attempts)
                else:
                    result[side] = measure(side, lambda: run_job(client, hub, source, job_timeout), args.attempts)
            bare, job = result["bare"], result["job"]
            identical &= job["output"]["sha256"] == sha256(bare_output)
            rows.append((run, bare, job))
            print(
                f"run {run}: bare {bare['wall']:.2f} s, job {job['wall']:.2f} s ({job['wall'] / bare['wall']:.3f}x; "
                f"its FFmpeg {job['ffmpeg']:.2f} s + {job['before']:.2f} s before + {job['after']:.2f} s after), "
                f"upload {job['upload']:.2f} s",
                flush=True,
            )

        def median(key: str, side: int = 2) -> float:
            return statistics.median(row[side][key] for row in rows)

        bare_median, job_median = median("wall", 1), median("wall")
        overhead = statistics.median(job["before"] + job["after"] for _, _, job in rows)
        output = rows[-1][2]["output"]
        mark = {True: "*", False: ""}
        print()
        print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {ffmpeg_version()}; {broker}")
        print(
            f"clip: {args.seconds} s 1920x1080 30 fps H.264/AAC, {source.stat().st_size / 2**20:.1f} MiB; "
            f"output: {output['width']}x{output['height']} {output['video_codec']}/{output['audio_codec']}, "
            f"{output['size'] / 2**20:.1f} MiB"
        )
        print(f"params: {json.dumps(PARAMS)}")
        print(f"job output byte-identical to the bare FFmpeg output: {'yes' if identical else 'NO'}")
        print()
        print(
            "| run | bare FFmpeg (s) | MediaHub job (s) | job/bare | job's FFmpeg (s) "
            "| job outside FFmpeg: before + after (s) | CPU-s: bare FFmpeg / job's FFmpeg / MediaHub | upload (s) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for run, bare, job in rows:
            print(
                f"| {run} | {bare['wall']:.2f}{mark[bare['disturbed']]} | {job['wall']:.2f}{mark[job['disturbed']]} "
                f"| {job['wall'] / bare['wall']:.3f}x | {job['ffmpeg']:.2f} | {job['before']:.2f} + {job['after']:.2f} "
                f"| {bare['cpu']:.1f} / {job['ffmpeg_cpu']:.1f} / {job['mediahub_cpu']:.1f} | {job['upload']:.2f} |"
            )
        print(
            f"| **median** | **{bare_median:.2f}** | **{job_median:.2f}** | **{job_median / bare_median:.3f}x** "
            f"| {median('ffmpeg'):.2f} | {median('before'):.2f} + {median('after'):.2f} "
            f"| {median('cpu', 1):.1f} / {median('ffmpeg_cpu'):.1f} / {median('mediahub_cpu'):.1f} "
            f"| {median('upload'):.2f} |"
        )
        if any(b["disturbed"] or j["disturbed"] for _, b, j in rows):
            print("* other processes used more than 5 % of the machine during this measurement")
        print()
        # Each run pairs a bare and a job measurement taken back to back (their order alternates), so the median
        # of the per-run ratios cancels the host's drift between runs; the other two figures are shown beside it.
        ratio = statistics.median(job["wall"] / bare["wall"] for _, bare, job in rows)
        total = sum(job["wall"] for _, _, job in rows) / sum(bare["wall"] for _, bare, _ in rows)
        verdict = "within" if ratio <= 1.05 else "OVER"
        print(f"job/bare, median of the paired runs = {ratio:.3f}x ({verdict} the 1.05x target)")
        print(f"job/bare, total time = {total:.3f}x; ratio of the medians = {job_median / bare_median:.3f}x")
        print(
            f"job time outside FFmpeg: median {overhead:.2f} s = {overhead / bare_median:.1%} of the bare run; "
            f"the job's FFmpeg took {median('ffmpeg') / bare_median - 1:+.1%} against the bare one"
        )
        return 0
    finally:
        hub.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def ffmpeg_version() -> str:
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False).stdout
    return " ".join(out.split()[:3]) if out else "ffmpeg"


if __name__ == "__main__":
    sys.exit(main())
