"""Scratch folders of killed workers: each job runs in `<job id>-xxxx` under MEDIAHUB_WORK_DIR and removes it
when it ends, but a worker killed mid-job (SIGKILL, OOM, a lost host) leaves it behind.

The database is shared by every host and the disks are not, so a folder here is stale when its job is not
running on this host: finished, queued again (its next run gets a new folder), running elsewhere, or gone.
Folders touched within MEDIAHUB_SCRATCH_MIN_AGE_SECONDS are left alone whatever the database says."""

import os
import re
import shutil
import time
from pathlib import Path

from django.conf import settings

from jobs.models import Job
from jobs.services.scheduling import worker_host

JOB_FOLDER = re.compile(r"^(job_[0-9a-z]{20})-")
SWEEP_EVERY_SECONDS = 60

_last_sweep = 0.0  # time.monotonic() of this process's last sweep


def scratch_sweep() -> int:
    """Remove this host's stale job folders; returns how many."""
    global _last_sweep
    _last_sweep = time.monotonic()
    root = Path(settings.MEDIAHUB_WORK_DIR)
    if not root.is_dir():
        return 0
    folders = {}
    with os.scandir(root) as entries:
        for entry in entries:
            match = JOB_FOLDER.match(entry.name)
            if match and entry.is_dir(follow_symlinks=False):
                folders[entry.path] = match.group(1)
    if not folders:
        return 0
    # Read after listing: a job claimed meanwhile is running here by now, and its new folder was not listed.
    running_here = set(
        Job.objects.filter(
            id__in=set(folders.values()), status=Job.Status.RUNNING, worker__startswith=f"{worker_host()}:"
        ).values_list("id", flat=True)
    )
    touched_since = time.time() - settings.MEDIAHUB_SCRATCH_MIN_AGE_SECONDS
    removed = 0
    for path, job_id in folders.items():
        if job_id in running_here or last_touched(path) > touched_since:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def scratch_sweep_due() -> bool:
    """Whether this process last swept more than SWEEP_EVERY_SECONDS ago."""
    return time.monotonic() - _last_sweep >= SWEEP_EVERY_SECONDS


def last_touched(path: str) -> float:
    """The newest modification time of the folder and everything in it."""
    newest = os.stat(path, follow_symlinks=False).st_mtime
    for folder, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                newest = max(newest, os.stat(os.path.join(folder, name), follow_symlinks=False).st_mtime)
            except FileNotFoundError:  # removed while we looked
                continue
    return newest
