"""What a `qcluster` process adds to django-q2: it takes a worker slot from the broker only when one of its
workers is free to run it, and it stops cleanly.

django-q2's pusher moves tasks from the broker into the cluster's own queue whether or not a worker is free
(up to `queue_limit`). A slot taken by a cluster whose workers are all busy waits there, however many other
clusters are idle, and on SIGTERM whatever sat there was run before the cluster stopped, each job to its end.
Here the pusher takes a slot only for an idle worker (the broker classes below gate `dequeue`), and a stop
gives each running job MEDIAHUB_WORKER_STOP_GRACE_SECONDS to finish before its worker hands it back: FFmpeg is
stopped and the job queued again, its attempt not counted, with a slot for another cluster (jobs_run_next).

A stop is noticed two ways: the sentinel publishes its status through the broker (`set_stat`) every guard
cycle and a stopping status is the cue for the whole cluster (SIGTERM to the qcluster process, as Docker,
Kubernetes and systemd's KillMode=mixed send it); a worker that gets SIGTERM itself (KillMode=control-group)
stops on its own.
"""

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import time

from django.conf import settings
from django.dispatch import receiver
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.signals import post_execute_in_worker, post_spawn, pre_execute
from django_q.signing import BadSignature, SignedPackage
from django_q.worker import rss_check

from jobs.services.scratch import scratch_sweep, scratch_sweep_due

log = logging.getLogger(__name__)


class ClusterState:
    """Shared by the sentinel, the pusher and the workers: made by the sentinel's broker before it forks them.

    `idle` counts workers waiting for a task; it is bounded by the pool size, so a permit released twice (a
    worker that timed out and was replaced) cannot make the cluster take more slots than it has workers."""

    def __init__(self, workers: int):
        self.idle = multiprocessing.BoundedSemaphore(workers)
        for _ in range(workers):
            self.idle.acquire()
        self.stopping = multiprocessing.Event()
        self.stop_requested_at = multiprocessing.Value("d", 0.0)

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            self.stop_requested_at.value = time.time()
            self.stopping.set()
            log.info("cluster stopping: running jobs have %s s to finish", settings.MEDIAHUB_WORKER_STOP_GRACE_SECONDS)

    def worker_ready(self) -> None:
        with contextlib.suppress(ValueError):  # already as many permits as workers
            self.idle.release()


_cluster: ClusterState | None = None
# This worker process's own SIGTERM (time.time() when it came), whether it runs a task, and how many it ran
# (django-q2 recycles a worker after Conf.RECYCLE tasks).
_terminated_at = 0.0
_busy = False
_tasks_run = 0


def cluster() -> ClusterState:
    global _cluster
    if _cluster is None:
        _cluster = ClusterState(int(Conf.WORKERS))
    return _cluster


def stopping() -> bool:
    """Whether this process's cluster or worker was told to stop."""
    return bool(_terminated_at) or (_cluster is not None and _cluster.stopping.is_set())


def stop_overdue() -> bool:
    """Whether a stop was asked for more than the grace period ago: a running job must be handed back now."""
    asked = [_terminated_at] if _terminated_at else []
    if _cluster is not None and _cluster.stopping.is_set():
        asked.append(_cluster.stop_requested_at.value)
    return bool(asked) and time.time() - min(asked) >= settings.MEDIAHUB_WORKER_STOP_GRACE_SECONDS


class SlotGate:
    """Broker mixin: `dequeue` only while a worker of this cluster is idle, and not at all once it stops."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cluster()  # made before the sentinel forks its workers and pusher, so they share it

    def dequeue(self):
        state = cluster()
        if state.stopping.is_set():
            time.sleep(0.1)  # the pusher checks its stop event after each dequeue
            return None
        if not state.idle.acquire(timeout=1):
            return None
        try:
            tasks = super().dequeue()
        except BaseException:
            state.idle.release()
            raise
        if not tasks:
            state.idle.release()
        return tasks

    def set_stat(self, key: str, value: str, timeout: int):
        super().set_stat(key, value, timeout)
        try:
            status = SignedPackage.loads(value).status
        except BadSignature:
            return
        if status == Conf.STOPPING:
            cluster().request_stop()


class RedisBroker(SlotGate, Redis):
    @staticmethod
    def get_connection(list_key: str | None = None):
        """One client (one connection pool) per process: django-q2 makes a broker for every task it enqueues,
        and a new client opens a new connection each time, ~4 ms of every job submitted."""
        return _redis_client()


@functools.cache
def _redis_client():
    return Redis.get_connection()  # redis-py's pool starts afresh in a forked process


class OrmBroker(SlotGate, ORM):
    pass


def _in_cluster() -> bool:
    """django-q2 also runs tasks inline (sync mode, tests) through the same worker code: only a process forked
    by a sentinel is a cluster worker."""
    return multiprocessing.parent_process() is not None and not Conf.SYNC


def _on_sigterm(signum, frame):
    """A worker told to stop by itself: at once when idle (as before), after handing its job back when busy."""
    global _terminated_at
    if not _busy:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _terminated_at = _terminated_at or time.time()


def _sweep() -> None:
    try:
        removed = scratch_sweep()
    except Exception:  # a sweep that fails (database away) must not stop the worker; the next one retries
        log.exception("scratch sweep failed")
        return
    if removed:
        log.info("removed %d stale scratch folders", removed)


@receiver(post_spawn)
def worker_started(sender, proc_name, **kwargs):
    if not _in_cluster():
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    _sweep()
    cluster().worker_ready()


@receiver(pre_execute)
def task_started(sender, func, task, **kwargs):
    global _busy, _tasks_run
    if _in_cluster():
        _busy = True
        _tasks_run += 1


@receiver(post_execute_in_worker)
def task_finished(sender, func, task, **kwargs):
    global _busy
    if not _in_cluster():
        return
    _busy = False
    if _terminated_at:
        # This worker got SIGTERM: it leaves now rather than wait for a STOP its (likely killed) sentinel
        # will never send. Its result never reaches the monitor, so it acknowledges the task itself.
        if task.get("ack_id"):
            get_broker().acknowledge(task["ack_id"])
        raise SystemExit(0)
    if scratch_sweep_due():
        _sweep()
    # django-q2 ends a worker after RECYCLE tasks or past MAX_RSS; its replacement reports ready on spawn.
    if _tasks_run != Conf.RECYCLE and not rss_check():
        cluster().worker_ready()
