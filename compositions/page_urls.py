from django.urls import path

from compositions import pages

app_name = "compositions"

urlpatterns = [
    path("", pages.composition_list, name="list"),
    path("rows", pages.composition_rows, name="rows"),
    path("<str:composition_id>/", pages.composition_detail, name="detail"),
    path("<str:composition_id>/preview", pages.composition_preview_page, name="preview"),
    path("<str:composition_id>/cancel", pages.composition_cancel_page, name="cancel"),
]
