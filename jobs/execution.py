"""What an operation sees while it runs: its inputs as local files, a work dir, and FFmpeg with progress."""

import re
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from jobs.ffmpeg.errors import Cancelled, MediaError
from jobs.ffmpeg.inputs import input_options
from jobs.ffmpeg.progress import Progress
from jobs.ffmpeg.runner import run_ffmpeg
from jobs.models import Asset, Job
from jobs.realtime import JobEvents
from jobs.worker import stop_overdue

# Frames the progress time may trail an output's end by: the last frame's own duration plus x264's B-frame delay.
REORDER_FRAMES = 4


class JobContext:
    def __init__(self, job: Job, workdir: Path):
        self.job = job
        self.workdir = workdir
        self.inputs: list[Asset] = job.ordered_inputs()
        self.param_assets: dict[str, Asset | None] = job.param_assets()
        self._local: dict[str, Path] = {}
        self.started = time.monotonic()

    # --- files ---------------------------------------------------------------------------------------

    @staticmethod
    def input_options(protocols: str = "file") -> dict:
        """Options for every `ffmpeg.input` of a user file (see jobs.ffmpeg.inputs)."""
        return input_options(protocols)

    def local_path(self, asset: Asset) -> Path:
        """A local path to the asset: in place on local storage, otherwise fetched once into the work dir."""
        if asset.id not in self._local:
            try:
                self._local[asset.id] = Path(asset.file.path)
            except NotImplementedError:  # remote storage (S3) has no local path
                self.set_stage("fetching")
                target = self.workdir / "inputs" / f"{asset.id}-{asset.storage_name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                with self.keepalive(), asset.file.open("rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
                self._local[asset.id] = target
        return self._local[asset.id]

    def param_asset(self, name: str) -> Asset:
        """The asset a param names (checked at submit time); MediaError when it was deleted since."""
        asset = self.param_assets.get(name)
        if asset is None:
            raise MediaError("input_missing", f"The asset given as {name} was deleted before the job ran.")
        return asset

    def output_path(self, name: str) -> Path:
        path = self.workdir / "out" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def stem(asset: Asset) -> str:
        """A safe base name for outputs derived from an input's display name."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(asset.name).stem).strip("-.")[:60]
        return stem or asset.id

    # --- progress and cancel -------------------------------------------------------------------------

    @contextmanager
    def keepalive(self):
        """Renew the lease from a side thread while a transfer runs that reports no progress (S3 fetches,
        storing outputs); cancels are still noticed by the main thread's next beat."""
        stop = threading.Event()
        lease = settings.MEDIAHUB_JOB_LEASE_SECONDS

        def renew():
            try:
                while not stop.wait(lease / 3):
                    self.job.heartbeat(lease_seconds=lease)
            finally:
                connection.close()  # this thread's own connection

        thread = threading.Thread(target=renew, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def set_stage(self, stage: str, **fields) -> None:
        self._beat(stage=stage, **fields)

    def sleep(self, seconds: float) -> None:
        """Wait on something outside (a provider), beating each second: the lease stays ours and a cancel is
        noticed within a second (Cancelled)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(1.0, left))
            self._beat()

    def _beat(self, **fields) -> None:
        """Renew the lease and store progress; raise Cancelled when the job is no longer ours, or when this
        worker is stopping and the grace period for finishing is over (jobs_run_next hands the job back)."""
        if stop_overdue():
            raise Cancelled()
        if not self.job.heartbeat(lease_seconds=settings.MEDIAHUB_JOB_LEASE_SECONDS, **fields):
            raise Cancelled()
        for name, value in fields.items():
            setattr(self.job, name, value)
        JobEvents.changed(self.job)

    def ffmpeg(
        self, args: list[str], *, duration: float | None, stage: str, span=(0.0, 99.0), capture: list[str] | None = None
    ) -> Progress:
        """Run FFmpeg over `duration` seconds of output, mapping its progress onto `span` of the job's.
        `capture` collects FFmpeg's stderr at info level, where analysis filters report. The stage is recorded
        once FFmpeg is launched, not before: a job cancelled meanwhile stops it at once."""
        low, high = span

        def started() -> bool:
            try:
                self.set_stage(stage, progress=low)
            except Cancelled:
                return False
            return True

        def tick(progress: Progress) -> bool:
            percent = round(low + (high - low) * progress.percent / 100, 1)
            try:
                self._beat(progress=max(percent, self.job.progress), eta_seconds=progress.eta_seconds)
            except Cancelled:
                return False
            return True

        remaining = settings.MEDIAHUB_JOB_TIMEOUT - (time.monotonic() - self.started)
        if remaining <= 0:
            raise MediaError("timeout", "The job ran longer than its time limit.")
        progress = run_ffmpeg(
            args,
            duration=duration,
            tick=tick,
            timeout=remaining,
            interval=settings.MEDIAHUB_PROGRESS_INTERVAL,
            capture=capture,
            started=started,
        )
        # A truncated input can probe as complete and still make FFmpeg stop early with exit code 0. FFmpeg's
        # progress time is the last packet's decode time: it ends a frame and the encoder's reorder delay early,
        # seconds at a slideshow's frame rate, so a few frames of the slowest input are allowed on top.
        rates = [asset.fps for asset in self.inputs if asset.fps]
        slack = max(0.5, 0.05 * (duration or 0), REORDER_FRAMES / min(rates) if rates else 0)
        if duration and progress.out_seconds < duration - slack:
            raise MediaError(
                "input_truncated",
                f"The input ended after {progress.out_seconds:.2f} s of the {duration:.2f} s it declares.",
            )
        return progress
