"""WebSocket progress: `/ws/jobs/` (all of the user's jobs) and `/ws/jobs/<id>/` (one job).

The current state is sent on connect, then every change as {"type": "job.update", "job": {…}}. With Redis the
changes arrive through the channel layer; on the embedded default the consumer reads the rows itself."""

import asyncio
import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.cache import cache

from jobs.models import Job
from jobs.realtime import job_group, user_group
from jobs.serializers import job_payload

POLL_SECONDS = 0.5
RECENT_ON_CONNECT = 20
# A socket whose process died without disconnecting stops counting against the cap after this long.
SOCKET_RECORD_SECONDS = 24 * 3600


def _sockets_key(user_id) -> str:
    return f"ws:sockets:{user_id}"


def socket_open(user_id, channel_name: str) -> bool:
    """Count a new socket against the user's cap (MEDIAHUB_MAX_WEBSOCKETS_PER_USER); False when full."""
    now = time.time()
    sockets = {
        name: at for name, at in cache.get(_sockets_key(user_id), {}).items() if now - at < SOCKET_RECORD_SECONDS
    }
    if len(sockets) >= settings.MEDIAHUB_MAX_WEBSOCKETS_PER_USER:
        return False
    sockets[channel_name] = now
    cache.set(_sockets_key(user_id), sockets, timeout=SOCKET_RECORD_SECONDS)
    return True


def socket_closed(user_id, channel_name: str) -> None:
    sockets = cache.get(_sockets_key(user_id), {})
    if sockets.pop(channel_name, None) is not None:
        cache.set(_sockets_key(user_id), sockets, timeout=SOCKET_RECORD_SECONDS)


class JobsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.job_id = self.scope["url_route"]["kwargs"].get("job_id")
        self.sent: dict[str, str] = {}
        self.poller = None
        if not self.user or not self.user.is_authenticated:
            await self.close(code=4401)
            return
        key = self.scope.get("api_key")
        if key is not None and not key.has_scope("read"):
            await self.close(code=4403)
            return
        if self.job_id and not await self._owns(self.job_id):
            await self.close(code=4404)
            return
        if not await database_sync_to_async(socket_open)(self.user.id, self.channel_name):
            await self.close(code=4429)  # too many sockets open for this user
            return
        self.counted = True
        self.group = job_group(self.job_id) if self.job_id else user_group(self.user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send_changed(await self._current())
        if settings.REALTIME_POLL_DATABASE:
            self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            await database_sync_to_async(socket_closed)(self.user.id, self.channel_name)
        if getattr(self, "poller", None):
            self.poller.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Clients only listen; a ping gets a pong so they can check the connection."""
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def job_update(self, event):
        if event.get("owner_id") != self.user.id:  # ownership re-checked for every event
            return
        await self._send_changed([event["job"]])

    # --- helpers -----------------------------------------------------------------------------------

    async def _send_changed(self, payloads: list[dict]) -> None:
        for payload in payloads:
            text = json.dumps(payload, sort_keys=True, default=str)
            if self.sent.get(payload["id"]) != text:
                self.sent[payload["id"]] = text
                await self.send_json({"type": "job.update", "job": json.loads(text)})

    async def _poll(self):
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._send_changed(await self._current())

    @database_sync_to_async
    def _owns(self, job_id: str) -> bool:
        return Job.objects.filter(id=job_id, owner=self.user).exists()

    @database_sync_to_async
    def _current(self) -> list[dict]:
        jobs = Job.objects.filter(owner=self.user).prefetch_related("input_links", "outputs")
        jobs = jobs.filter(id=self.job_id) if self.job_id else jobs.order_by("-updated_at")[:RECENT_ON_CONNECT]
        return [job_payload(job) for job in reversed(list(jobs))]
