from django.urls import path

from annotation.api import views

urlpatterns = [
    path("auth/token", views.ObtainTokenView.as_view(), name="api-token"),
    path(
        "sprints/<int:sprint_id>/items/import",
        views.ItemImportView.as_view(),
        name="api-item-import",
    ),
]
