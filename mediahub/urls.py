from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from compositions.internal import ProcessClipsDetailView, ProcessClipsView
from jobs.api_internal import QueueView
from mediahub.api.health import HealthView, LivenessView, ReadinessView, WorkersView
from mediahub.metrics import metrics

api_v1 = [
    path("health", HealthView.as_view(), name="health"),
    path("health/live", LivenessView.as_view(), name="health-live"),
    path("health/ready", ReadinessView.as_view(), name="health-ready"),
    path("health/workers", WorkersView.as_view(), name="health-workers"),
    path("", include("jobs.api_urls")),
    path("", include("keys.api_urls")),
    path("", include("compositions.api_urls")),
    path("", include("providers.api_urls")),
]

internal_v1 = [
    path("queue", QueueView.as_view(), name="queue"),
    path("process-clips", ProcessClipsView.as_view(), name="process-clips"),
    path("process-clips/<str:batch_id>", ProcessClipsDetailView.as_view(), name="process-clips-detail"),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"))),
    path("internal/v1/", include((internal_v1, "internal"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/", include("keys.page_urls")),
    path("compositions/", include("compositions.page_urls")),
    path("clips/", include("compositions.clip_urls")),
    path("generate/", include("providers.page_urls")),
    path("", include("jobs.page_urls")),
]

handler404 = "mediahub.views.not_found"
handler500 = "mediahub.views.server_error"
