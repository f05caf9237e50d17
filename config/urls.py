"""Top-level URLs: admin, health, REST API and its schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.favicon import favicon
from config.health import healthz

# A database outage is a 503 with Retry-After, wherever it surfaces (config/unavailable.py).
handler500 = "config.unavailable.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    # Before the admin's own URLs: its catch-all would take them.
    path("admin/two-factor/", include("reserve.access.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("reserve.api.urls")),
    # The public transparency page: no login, published wallets only (reserve/public/).
    path("transparency/", include("reserve.public.urls")),
    # Log in and out of the browsable API with a session.
    path("api/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
