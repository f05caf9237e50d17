"""Top-level URLs: admin, health, REST API and its schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz
from reserve.two_factor import enrol_view, verify_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Before the admin's own URLs: its catch-all would take them.
    path("admin/two-factor/verify/", verify_view, name="two_factor_verify"),
    path("admin/two-factor/enrol/", enrol_view, name="two_factor_enrol"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("reserve.api.urls")),
    # Log in and out of the browsable API with a session.
    path("api/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
