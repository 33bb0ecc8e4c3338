from django.urls import path

from keys import pages

app_name = "settings"

urlpatterns = [
    path("", pages.settings_index, name="index"),
    path("keys/", pages.api_keys, name="keys"),
    path("keys/<str:key_id>/revoke", pages.api_key_revoke, name="key-revoke"),
    path("keys/<str:key_id>/rotate", pages.api_key_rotate, name="key-rotate"),
    path("provider-keys/", pages.provider_keys, name="provider-keys"),
    path("provider-keys/<str:credential_id>/revoke", pages.provider_key_revoke, name="provider-key-revoke"),
    path("provider-keys/<str:credential_id>/validate", pages.provider_key_validate, name="provider-key-validate"),
]
