"""Owner-scoped reads of keys and provider credentials."""

from django.db.models import QuerySet

from keys.models import ApiKey, ProviderCredential
from mediahub.errors import one_or_not_found


def api_keys_for(user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(owner=user)


def get_api_key_for(user, key_id: str) -> ApiKey:
    return one_or_not_found(api_keys_for(user), key_id, "No such API key.")


def provider_credentials_for(user) -> QuerySet[ProviderCredential]:
    return ProviderCredential.objects.filter(owner=user)


def get_provider_credential_for(user, credential_id: str) -> ProviderCredential:
    return one_or_not_found(provider_credentials_for(user), credential_id, "No such provider key.")
