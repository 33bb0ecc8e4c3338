from django.urls import path

from jobs.consumers import JobsConsumer

websocket_urlpatterns = [
    path("ws/jobs/", JobsConsumer.as_asgi()),
    path("ws/jobs/<str:job_id>/", JobsConsumer.as_asgi()),
]
