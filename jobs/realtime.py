"""The one sender of job events: every state or progress change goes to the groups `job.<id>` and
`user.<owner id>`. Without a cross-process layer (embedded default) consumers read the rows instead."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from jobs.serializers import job_payload

log = logging.getLogger(__name__)


def job_group(job_id: str) -> str:
    return f"job.{job_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class JobEvents:
    @staticmethod
    def changed(job) -> None:
        if settings.REALTIME_POLL_DATABASE:
            return
        message = {"type": "job.update", "owner_id": job.owner_id, "job": job_payload(job)}
        layer = get_channel_layer()
        # Events are best effort: a job must not fail because Redis is restarting; the rows stay the truth, and
        # the next change (or a client's re-read) carries the state.
        try:
            async_to_sync(layer.group_send)(job_group(job.id), message)
            async_to_sync(layer.group_send)(user_group(job.owner_id), message)
        except Exception as exc:  # noqa: BLE001 (any failure of the layer's transport)
            log.warning("job %s: progress event not sent (%s: %s)", job.id, type(exc).__name__, exc)
