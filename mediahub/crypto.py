"""Secrets at rest: Fernet through MultiFernet, so keys rotate without downtime.

Keys come from MEDIAHUB_ENCRYPTION_KEYS (comma-separated, newest first). The embedded default generates one
into the data dir on first use; production without keys fails the mediahub.E007 check."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(RuntimeError):
    """A stored secret cannot be read with any configured key (a key was removed too early)."""


def _dev_key() -> str:
    path = settings.DATA_DIR / "encryption-key"
    if not path.exists():
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    keys = tuple(settings.MEDIAHUB_ENCRYPTION_KEYS) or (_dev_key(),)
    return _fernet(keys)


def encrypt(secret: str) -> str:
    return fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("A stored secret cannot be decrypted with MEDIAHUB_ENCRYPTION_KEYS.") from None


def rotate(token: str) -> str:
    """The same secret encrypted with the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("A stored secret cannot be decrypted with MEDIAHUB_ENCRYPTION_KEYS.") from None
