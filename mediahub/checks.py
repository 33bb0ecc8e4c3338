"""System checks: each names what is wrong and how to fix it."""

import os
import shutil

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def media_tools(app_configs, **kwargs):
    errors = []
    for check_id, tool in (("mediahub.E001", settings.MEDIAHUB_FFMPEG), ("mediahub.E002", settings.MEDIAHUB_FFPROBE)):
        if not shutil.which(tool):
            errors.append(
                Error(
                    f"{tool} not found on PATH.",
                    hint="Install FFmpeg: apt-get install ffmpeg (or set MEDIAHUB_FFMPEG / MEDIAHUB_FFPROBE).",
                    id=check_id,
                )
            )
    return errors


@register(Tags.database)
def database_url(app_configs, **kwargs):
    if settings.DATABASE_URL_ERROR:
        return [
            Error(
                f"DATABASE_URL is not usable: {settings.DATABASE_URL_ERROR}.",
                hint="Use postgres://user:password@host:5432/name, or unset DATABASE_URL for embedded SQLite.",
                id="mediahub.E004",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def production_config(app_configs, **kwargs):
    if not settings.PRODUCTION:
        return []
    errors = []
    if len(os.environ.get("SECRET_KEY", "")) < 40:
        errors.append(
            Error(
                "SECRET_KEY is missing or too short for production.",
                hint="Set SECRET_KEY to 50 random characters.",
                id="mediahub.E003",
            )
        )
    if settings.DEBUG:
        errors.append(Error("DEBUG is on in production.", hint="Unset DEBUG.", id="mediahub.E005"))
    if not settings.ALLOWED_HOSTS:
        errors.append(
            Error(
                "ALLOWED_HOSTS is empty in production.",
                hint="Set ALLOWED_HOSTS to the host names MediaHub is served at.",
                id="mediahub.E006",
            )
        )
    if not settings.MEDIAHUB_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "MEDIAHUB_ENCRYPTION_KEYS is empty in production: stored secrets could not be read back.",
                hint="Set it to a key from `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` (comma-separated, newest first, to rotate).",
                id="mediahub.E007",
            )
        )
    if not settings.DATABASE_URL:
        errors.append(
            Warning(
                "Production runs on embedded SQLite.",
                hint="Set DATABASE_URL=postgres://… for more than one worker host.",
                id="mediahub.W001",
            )
        )
    return errors


@register(Tags.compatibility)
def whisper_model(app_configs, **kwargs):
    """A whisper model directory that is set must be usable: it is never downloaded."""
    from jobs.transcription import whisper

    if not whisper.configured() or (problem := whisper.problem()) is None:
        return []
    return [
        Error(
            f"The whisper engine is configured but cannot run: {problem}",
            hint="Install the extra (pip install 'mediahub[whisper]') and point MEDIAHUB_WHISPER_MODEL_DIR at a "
            "local CTranslate2 model directory (e.g. a faster-whisper model copied to the host), or unset it.",
            id="mediahub.E008",
        )
    ]
