from django.urls import path

from keys import api

urlpatterns = [
    path("keys", api.ApiKeyListView.as_view(), name="key-list"),
    path("keys/<str:key_id>", api.ApiKeyDetailView.as_view(), name="key-detail"),
    path("keys/<str:key_id>/rotate", api.ApiKeyRotateView.as_view(), name="key-rotate"),
    path("provider-keys", api.ProviderKeyListView.as_view(), name="provider-key-list"),
    path("provider-keys/<str:credential_id>", api.ProviderKeyDetailView.as_view(), name="provider-key-detail"),
    path(
        "provider-keys/<str:credential_id>/validate",
        api.ProviderKeyValidateView.as_view(),
        name="provider-key-validate",
    ),
]
