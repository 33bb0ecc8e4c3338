from django.urls import path

from compositions import clip_pages

app_name = "clips"

urlpatterns = [
    path("", clip_pages.clips_list, name="list"),
    path("<str:clips_job_id>/", clip_pages.clips_detail, name="detail"),
    path("<str:clips_job_id>/<int:index>/compose", clip_pages.clip_compose, name="compose"),
]
