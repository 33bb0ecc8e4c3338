from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from keys.models import ApiKey, hash_secret


@transaction.atomic
def apikey_create(*, owner: AbstractBaseUser, name: str, expires_at=None) -> tuple[ApiKey, str]:
    """Create a key; the raw secret is returned once and only its hash is stored."""
    raw, prefix = ApiKey.generate()
    key = ApiKey.objects.create(
        owner=owner, name=name, prefix=prefix, secret_hash=hash_secret(raw), expires_at=expires_at
    )
    return key, raw
