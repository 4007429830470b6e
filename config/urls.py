from django.contrib import admin
from django.urls import include, path

from boards import api
from core.health import HealthView

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("api", api.root),
    path("api/", include("boards.api_urls")),
    path("docs/api/", api.reference, name="api-reference"),
    path("", include("boards.urls")),
]

# Refused and missing pages in the app's layout, with the reason and a way back.
handler403 = "core.error_pages.permission_denied"
handler404 = "core.error_pages.page_not_found"
