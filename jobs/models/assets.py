from django.conf import settings
from django.db import models
from django.utils import timezone

from mediahub.ids import IdFactory


def asset_upload_to(asset: "Asset", filename: str) -> str:
    # The user's file name never becomes a path: only our ids and a fixed extension do.
    return f"assets/{asset.owner_id}/{asset.id}/{asset.storage_name}"


class Asset(models.Model):
    class Kind(models.TextChoices):
        VIDEO = "video"
        AUDIO = "audio"
        IMAGE = "image"
        SUBTITLE = "subtitle"
        STREAM = "stream"  # an HLS/DASH folder: the playlist or manifest is the file, `files` its members
        DATA = "data"

    class Source(models.TextChoices):
        UPLOAD = "upload"
        URL = "url"
        JOB = "job"
        GENERATION = "generation"

    id = models.CharField(primary_key=True, max_length=32, default=IdFactory("ast"), editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets")
    file = models.FileField(upload_to=asset_upload_to, max_length=255)
    storage_name = models.CharField(max_length=64, help_text="File name inside storage: 'source.<ext>'.")
    name = models.CharField(max_length=255, help_text="The name shown to people (the uploaded file's name).")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DATA)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    probe = models.JSONField(default=dict, blank=True)
    duration = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    video_codec = models.CharField(max_length=32, blank=True)
    audio_codec = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOAD)
    files = models.JSONField(
        default=list, blank=True, help_text="Folder assets: the member files, as paths relative to the main file."
    )
    job = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="outputs")
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="asset_unique_idempotency_key",
            )
        ]

    def __str__(self):
        return f"{self.id} {self.name}"

    @property
    def has_video(self) -> bool:
        return bool(self.video_codec)

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_codec)
