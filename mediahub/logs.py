"""Log lines that say which request or job they belong to: context variables set around a request or a job run,
a filter that copies them onto every record, and the plain and JSON formatters (MEDIAHUB_LOG_FORMAT)."""

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils.functional import LazyObject, empty
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

log = logging.getLogger("mediahub.jobs")

CONTEXT_FIELDS = ("request_id", "user", "job_id", "operation")
_context: ContextVar[dict | None] = ContextVar("mediahub_log_context", default=None)
# Record attributes that are no log field: the standard ones, and Django's `request` object (its repr says little).
_NOT_FIELDS = {*RESERVED_ATTRS, "request", "taskName", "color_message"}


@contextmanager
def log_context(**fields):
    """Every log line inside carries these fields (request_id, user, job_id, operation, or the request itself,
    whose user is read when a line is logged, once authentication has found it)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def known_user(request) -> str | None:
    """The id of the request's user if authentication already found it; never a database lookup of its own
    (Django's user is lazy until something reads it; DRF sets the real one once it authenticated)."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


class ContextFilter(logging.Filter):
    """Copies the context's fields onto each record (on the handler, so lines of every logger get them). Django
    logs a 4xx outside every middleware, with the request on the record: its id and user come from there."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        request = getattr(record, "request", None)
        if request is not None and "request" not in context and hasattr(request, "request_id"):
            context = {"request_id": request.request_id, "request": request}
        for name in CONTEXT_FIELDS:
            value = context.get(name)
            if name == "user" and value is None and "request" in context:
                value = known_user(context["request"])
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


def _fields(record: logging.LogRecord) -> dict:
    return {key: value for key, value in record.__dict__.items() if key not in _NOT_FIELDS and value is not None}


class PlainFormatter(logging.Formatter):
    """`time level logger: message` followed by the record's fields as key=value."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        if not fields:
            return line
        head, newline, traceback = line.partition("\n")
        return f"{head} {fields}{newline}{traceback}"


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, then the context's and the line's own fields."""

    def __init__(self):
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=sorted(_NOT_FIELDS),
        )


@contextmanager
def job_run_logged(job):
    """Around a worker's run of a job: its lines carry job_id, operation and user, and one line is logged at the
    start and one at the end. The outcome is the job's final status; `requeued` when the job went back to the queue
    (handed back at shutdown, or its lease lapsed), `taken_over` when another worker runs it already,
    `interrupted` when the run raised out of the worker."""
    with log_context(job_id=job.id, operation=job.operation, user=str(job.owner_id)):
        fields = {"owner": job.owner_id, "attempt": job.attempts}
        log.info("job started", extra=fields)
        started = time.monotonic()
        try:
            yield
        except BaseException:
            duration = round(time.monotonic() - started, 3)
            log.error("job interrupted", extra={**fields, "duration_seconds": duration, "outcome": "interrupted"})
            raise
        duration = round(time.monotonic() - started, 3)
        outcome = {"queued": "requeued", "running": "taken_over"}.get(job.status, job.status)
        level = logging.WARNING if outcome == "failed" else logging.INFO
        if outcome == "failed" and job.error:
            fields["error_code"] = job.error.get("code")
        message = f"job {outcome.replace('_', ' ')}"
        log.log(level, message, extra={**fields, "duration_seconds": duration, "outcome": outcome})
