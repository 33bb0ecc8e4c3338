from django.urls import path

from providers import api

urlpatterns = [
    path("providers", api.ProvidersView.as_view(), name="provider-list"),
    path("generations", api.GenerationListView.as_view(), name="generation-list"),
    path("generations/<str:generation_id>", api.GenerationDetailView.as_view(), name="generation-detail"),
    path("generations/<str:generation_id>/cancel", api.GenerationCancelView.as_view(), name="generation-cancel"),
    path("usage", api.UsageView.as_view(), name="usage"),
]
