"""Routes of the exports app under /api/v1/."""

from django.urls import path

from exports.api import views

urlpatterns = [
    path("exports", views.ExportListView.as_view(), name="api-exports"),
    path("exports/<id:pk>", views.ExportDetailView.as_view(), name="api-export"),
    path(
        "exports/<id:pk>/download", views.ExportDownloadView.as_view(), name="api-export-download"
    ),
]
