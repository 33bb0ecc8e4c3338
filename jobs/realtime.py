"""The one sender of job events: every state or progress change goes to the groups `job.<id>` and
`user.<owner id>`. Without a cross-process layer (embedded default) consumers read the rows instead.

Events leave through one long-lived event loop per process, in a background thread (`Publisher`):
`async_to_sync` from plain sync code, as in a worker, makes a new event loop and a new Redis connection on every
call, 10–20 ms each, and a job sends two events before its FFmpeg starts. The caller only queues the event; the
thread sends them one after another, so each group sees them in the order they happened. A job's final event
waits until it is sent, so that nothing of a finished job is still queued when its worker takes the next job
or exits; whatever is still queued at process exit is sent first too."""

import asyncio
import logging
import multiprocessing.util
import os
import queue
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from jobs.serializers import job_payload

log = logging.getLogger(__name__)

# Events queued and not yet sent, per process; past this, new ones are dropped (and logged) rather than held.
QUEUE_SIZE = 1000
# The longest one send may take (a Redis that stopped answering), and the longest a caller waits for a flush.
SEND_TIMEOUT = 5.0
FLUSH_TIMEOUT = 10.0


def job_group(job_id: str) -> str:
    return f"job.{job_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class Publisher:
    """Sends job events to the channel layer from one event loop in a background thread, in order."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)

    def send(self, groups: tuple[str, ...], message: dict) -> bool:
        """Queue `message` for `groups`; False when the queue is full and the event was dropped."""
        try:
            self._running().put_nowait((groups, message))
        except queue.Full:
            log.warning("job event for %s dropped: %d events are waiting to be sent", groups[0], QUEUE_SIZE)
            return False
        return True

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until every event queued so far has been sent (or failed); False after `timeout` seconds."""
        if self._pid != os.getpid():
            return True  # nothing was queued in this process
        sent = threading.Event()
        try:
            self._queue.put(sent, timeout=timeout)
        except queue.Full:
            return False
        return sent.wait(timeout)

    def close(self) -> None:
        """Send what is queued and stop the thread (at process exit)."""
        if self._pid != os.getpid():
            return
        self.flush()
        self._queue.put(None)
        self._pid = 0

    def _running(self) -> queue.Queue:
        with self._lock:
            # A forked process (a django-q2 worker) has the object but not the thread: it starts its own.
            if self._pid != os.getpid():
                self._queue = queue.Queue(QUEUE_SIZE)
                threading.Thread(target=self._serve, args=(self._queue,), name="job-events", daemon=True).start()
                # Run by multiprocessing's exit handler, in the main process (atexit) and in forked workers,
                # which leave through os._exit and never run atexit.
                multiprocessing.util.Finalize(self, self.close, exitpriority=10)
                self._pid = os.getpid()
        return self._queue

    def _serve(self, events: queue.Queue) -> None:
        loop = asyncio.new_event_loop()
        try:
            while (item := events.get()) is not None:
                if isinstance(item, threading.Event):
                    item.set()
                else:
                    loop.run_until_complete(self._send(*item))
        finally:
            loop.close()  # channels-redis closes this loop's connections

    @staticmethod
    async def _send(groups: tuple[str, ...], message: dict) -> None:
        # Events are best effort: a job must not fail or stall because Redis is restarting; the rows stay the
        # truth, and the next change (or a client's re-read) carries the state.
        try:
            layer = get_channel_layer()
            async with asyncio.timeout(SEND_TIMEOUT):
                for group in groups:
                    await layer.group_send(group, message)
        except Exception as exc:  # noqa: BLE001 (any failure of the layer's transport)
            log.warning("job event for %s not sent (%s: %s)", groups[0], type(exc).__name__, exc)


publisher = Publisher()


class JobEvents:
    @staticmethod
    def changed(job) -> None:
        if settings.REALTIME_POLL_DATABASE:
            return
        message = {"type": "job.update", "owner_id": job.owner_id, "job": job_payload(job)}
        groups = (job_group(job.id), user_group(job.owner_id))
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            # An in-process layer belongs to its caller's event loop (one process, tests): send there.
            for group in groups:
                async_to_sync(layer.group_send)(group, message)
            return
        publisher.send(groups, message)
        if job.is_finished:
            publisher.flush()
