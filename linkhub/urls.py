from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import converters, health, metrics

# Before the apps' URLs are included: they use <id:...> for every id.
converters.register()

api_patterns: list[URLPattern | URLResolver] = [
    path("", include("linkhub.accounts.api.urls")),
    path("", include("linkhub.links.api.urls")),
    path("", include("snapshots.api.urls")),
    path("", include("mlops.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="links:list", permanent=False), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="prometheus-django-metrics"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("linkhub.accounts.urls")),
    path("", include("linkhub.links.urls")),
    path("", include("snapshots.urls")),
    path("", include("mlops.urls")),
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
]

# JSON under /api/, the app's pages elsewhere; an outage that surfaces outside a view is a 503.
handler400 = "linkhub.middleware.bad_request"
handler403 = "linkhub.middleware.permission_denied"
handler404 = "linkhub.middleware.page_not_found"
handler500 = "linkhub.middleware.server_error"

admin.site.site_header = "LinkHub administration"
admin.site.site_title = "LinkHub admin"
