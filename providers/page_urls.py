from django.urls import path

from providers import pages

app_name = "providers"

urlpatterns = [
    path("", pages.playground, name="playground"),
    path("gallery", pages.gallery, name="gallery"),
    path("gallery/grid", pages.gallery_grid, name="gallery-grid"),
    path("usage", pages.usage_page, name="usage"),
    path("<str:generation_id>/", pages.generation_detail, name="generation"),
    path("<str:generation_id>/cancel", pages.generation_cancel_page, name="cancel"),
    path("<str:generation_id>/delete", pages.generation_delete_page, name="delete"),
]
