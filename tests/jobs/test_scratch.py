"""The sweep of scratch folders left by killed workers: only this host's folders of jobs not running here."""

import os
import time

import pytest
from django_q.models import Schedule

from jobs.apps import SCHEDULES, ensure_schedules
from jobs.models import Job
from jobs.services.scheduling import worker_host
from jobs.services.scratch import scratch_sweep

pytestmark = pytest.mark.django_db


def job(persona, status: str, worker: str = "") -> Job:
    owner, _key = persona
    return Job.objects.create(owner=owner, operation="transcode", status=status, worker=worker)


def folder(settings, job_id: str, *, age: float) -> str:
    path = settings.MEDIAHUB_WORK_DIR / f"{job_id}-k3j2h1"
    (path / "out").mkdir(parents=True)
    (path / "out" / "output.mp4").write_bytes(b"partial")
    then = time.time() - age
    for item in (path / "out" / "output.mp4", path / "out", path):
        os.utime(item, (then, then))
    return path.name


def remaining(settings) -> set[str]:
    return {entry.name for entry in settings.MEDIAHUB_WORK_DIR.iterdir()}


def test_old_folders_of_jobs_not_running_here_are_removed(alice, settings):
    settings.MEDIAHUB_SCRATCH_MIN_AGE_SECONDS = 60
    here = f"{worker_host()}:4242"
    running_here = folder(settings, job(alice, Job.Status.RUNNING, here).id, age=3600)
    finished = folder(settings, job(alice, Job.Status.SUCCEEDED).id, age=3600)
    requeued = folder(settings, job(alice, Job.Status.QUEUED).id, age=3600)
    elsewhere = folder(settings, job(alice, Job.Status.RUNNING, "other-host:4242").id, age=3600)
    missing = folder(settings, "job_" + "a" * 20, age=3600)

    assert scratch_sweep() == 4

    assert remaining(settings) == {running_here}
    assert {finished, requeued, elsewhere, missing}.isdisjoint(remaining(settings))


def test_a_folder_touched_lately_is_kept_whatever_its_job(alice, settings):
    settings.MEDIAHUB_SCRATCH_MIN_AGE_SECONDS = 60
    recent = folder(settings, job(alice, Job.Status.FAILED).id, age=3600)
    # FFmpeg still writing into it: its output is new though the folder itself is old.
    os.utime(settings.MEDIAHUB_WORK_DIR / recent / "out" / "output.mp4")
    young = folder(settings, job(alice, Job.Status.SUCCEEDED).id, age=5)

    assert scratch_sweep() == 0
    assert remaining(settings) == {recent, young}


def test_the_sweep_leaves_what_is_not_a_job_folder(alice, settings):
    settings.MEDIAHUB_SCRATCH_MIN_AGE_SECONDS = 0
    work = settings.MEDIAHUB_WORK_DIR
    (work / "local-provider").mkdir(parents=True)
    (work / "tmpab12cd").mkdir()
    (work / "x9.upload.mp4").write_bytes(b"upload in progress")
    (work / f"{job(alice, Job.Status.SUCCEEDED).id}-file").write_bytes(b"a file, not a folder")

    assert scratch_sweep() == 0
    assert len(remaining(settings)) == 4


def test_the_sweep_runs_every_minute(db):
    ensure_schedules()
    schedule = Schedule.objects.get(name="sweep scratch folders")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "jobs.tasks.sweep_scratch_folders",
        Schedule.MINUTES,
        1,
    )
    # the stored paths of the earlier schedules are unchanged
    assert SCHEDULES["recover stale jobs"] == "jobs.tasks.recover_stale_jobs"
