"""Job events leave through one event loop per process, in order; a finished job's event is sent before the call
returns, and what is queued when a worker process exits is still sent. A claimed job carries what its run reads."""

import asyncio
import multiprocessing
import os
import threading
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from jobs.execution import JobContext
from jobs.models import Asset, Job, JobInput
from jobs.realtime import JobEvents, Publisher, job_group, publisher
from jobs.serializers import job_payload
from jobs.services.scheduling import job_claim_next

REDIS_URL = os.environ.get("REDIS_URL")


@pytest.fixture
def sent(monkeypatch) -> list[tuple]:
    """What the publisher sends, in order, each send taking 50 ms (a slow Redis)."""
    record: list[tuple] = []

    async def slow_send(groups, message):
        await asyncio.sleep(0.05)
        record.append((groups, message))

    monkeypatch.setattr(Publisher, "_send", staticmethod(slow_send))
    return record


def test_events_are_sent_in_the_order_they_were_queued(sent):
    events = Publisher()
    started = time.monotonic()
    for n in range(6):
        assert events.send(("job.a", "user.1"), {"n": n})
    assert time.monotonic() - started < 0.05, "send waited for the layer"
    assert events.flush(timeout=5)
    assert [message["n"] for _, message in sent] == list(range(6))
    events.close()


def test_flush_waits_for_every_queued_event(sent):
    events = Publisher()
    for n in range(4):
        events.send(("job.a",), {"n": n})
    assert len(sent) < 4
    assert events.flush(timeout=5)
    assert len(sent) == 4
    events.close()


def test_a_full_queue_drops_new_events_instead_of_blocking(monkeypatch):
    monkeypatch.setattr("jobs.realtime.QUEUE_SIZE", 2)
    busy, release, record = threading.Event(), threading.Event(), []

    async def stuck_send(groups, message):
        busy.set()
        release.wait(5)  # a layer that stopped answering holds the publisher's thread
        record.append(message["n"])

    monkeypatch.setattr(Publisher, "_send", staticmethod(stuck_send))
    events = Publisher()
    assert events.send(("job.a",), {"n": 0})
    assert busy.wait(5)
    started = time.monotonic()
    accepted = [events.send(("job.a",), {"n": n}) for n in range(1, 5)]
    assert time.monotonic() - started < 0.5
    assert accepted == [True, True, False, False]
    release.set()
    assert events.flush(timeout=5)
    assert record == [0, 1, 2]
    events.close()


def _send_and_exit(path: str) -> None:
    publisher.send(("job.a",), {"n": 7, "path": path})  # no flush: the process ends right after


def test_events_queued_by_a_worker_process_are_sent_before_it_exits(tmp_path, monkeypatch):
    async def slow_send(groups, message):
        await asyncio.sleep(0.3)
        with open(message["path"], "a") as fh:
            fh.write(f"{os.getpid()} {message['n']}\n")

    monkeypatch.setattr(Publisher, "_send", staticmethod(slow_send))
    out = tmp_path / "sent.txt"
    publisher.send(("job.a",), {"n": 1, "path": str(out)})  # this process's thread exists before the fork
    assert publisher.flush(timeout=5)
    # django-q2 forks its workers and they leave through os._exit, past atexit.
    worker = multiprocessing.get_context("fork").Process(target=_send_and_exit, args=(str(out),))
    worker.start()
    worker.join(10)
    assert worker.exitcode == 0
    lines = out.read_text().splitlines()
    assert lines == [f"{os.getpid()} 1", f"{worker.pid} 7"]


def test_a_claimed_job_reads_its_inputs_and_payload_without_more_queries(alice, tmp_path, django_assert_num_queries):
    owner = alice[0]

    def asset(name: str, kind: str) -> Asset:
        return Asset.objects.create(owner=owner, file=f"{name}/source", storage_name="source", name=name, kind=kind)

    video, image, second = asset("a.mp4", "video"), asset("b.png", "image"), asset("c.mp4", "video")
    job = Job.objects.create(owner=owner, operation="watermark", params={"image": image.id})
    JobInput.objects.create(job=job, asset=second, position=1)
    JobInput.objects.create(job=job, asset=video, position=0)
    JobInput.objects.create(job=job, asset=image, position=2, role="image")

    claimed = job_claim_next(worker="test:1")

    assert claimed.id == job.id
    with django_assert_num_queries(0):
        ctx = JobContext(claimed, tmp_path)
        payload = job_payload(claimed)
    assert [asset.id for asset in ctx.inputs] == [video.id, second.id]
    assert ctx.param_assets == {"image": image}
    assert (payload["status"], payload["inputs"], payload["outputs"]) == ("running", [video.id, second.id], [])


def redis_layer(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": f"mediahub-test-{uuid.uuid4().hex[:8]}"},
        }
    }


def test_a_finished_jobs_event_is_sent_before_the_call_returns(alice, settings, sent):
    settings.REALTIME_POLL_DATABASE = False
    settings.CHANNEL_LAYERS = redis_layer("redis://127.0.0.1:9/0")  # never reached: the sends are recorded
    job = Job.objects.create(owner=alice[0], operation="transcode", status="running")

    started = time.monotonic()
    for progress in (10, 20, 30):
        job.progress = progress
        JobEvents.changed(job)
    assert time.monotonic() - started < 0.1, "progress events waited for the layer"
    job.status = "succeeded"
    JobEvents.changed(job)

    assert [(message["job"]["status"], message["job"]["progress"]) for _, message in sent] == [
        ("running", 10),
        ("running", 20),
        ("running", 30),
        ("succeeded", 30),
    ]
    assert sent[0][0] == (f"job.{job.id}", f"user.{alice[0].id}")


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set (the Redis path runs in CI)")
def test_progress_events_reach_a_redis_group_in_order(alice, settings):
    settings.REALTIME_POLL_DATABASE = False
    settings.CHANNEL_LAYERS = redis_layer(REDIS_URL)
    job = Job.objects.create(owner=alice[0], operation="transcode", status="running")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job_group(job.id), channel)

    for progress in (10, 20, 30, 40):
        job.progress = progress
        JobEvents.changed(job)
    job.status, job.progress = "succeeded", 100
    JobEvents.changed(job)

    async def received() -> list[tuple[str, float]]:
        messages = [await asyncio.wait_for(layer.receive(channel), 2) for _ in range(5)]
        return [(m["job"]["status"], m["job"]["progress"]) for m in messages]

    assert async_to_sync(received)() == [("running", p) for p in (10, 20, 30, 40)] + [("succeeded", 100)]
