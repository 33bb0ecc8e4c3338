from django.urls import path

from compositions import api

urlpatterns = [
    path("clips", api.ClipsView.as_view(), name="clip-list"),
    path("compositions", api.CompositionListView.as_view(), name="composition-list"),
    path("compositions/<str:composition_id>", api.CompositionDetailView.as_view(), name="composition-detail"),
    path("compositions/<str:composition_id>/cancel", api.CompositionCancelView.as_view(), name="composition-cancel"),
    path("compositions/<str:composition_id>/preview", api.CompositionPreviewView.as_view(), name="composition-preview"),
]
