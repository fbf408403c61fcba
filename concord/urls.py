from django.contrib import admin
from django.urls import include, path

from annotation.api.docs import ApiDocsView, ApiSchemaView

# Unknown paths under /api/ answer the API's one JSON error shape; pages keep the HTML ones.
handler404 = "annotation.api.errors.not_found"
handler500 = "annotation.api.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("annotation.api.urls")),
    path("api/v1/", include("reviews.api.urls")),
    path("api/v1/feedback/", include("feedback.api.urls")),
    path("api/v1/", include("exports.api.urls")),
    path("api/v1/", include("training.api.urls")),
    path("api/schema/", ApiSchemaView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("reviews/", include("reviews.urls")),
    path("training/", include("training.urls")),
    path("feedback/", include("feedback.urls")),
    path("", include("annotation.urls")),
]
