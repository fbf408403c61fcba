from django.urls import path

from annotation.api import labeling, views

urlpatterns = [
    path("auth/token", views.ObtainTokenView.as_view(), name="api-token"),
    path(
        "sprints/<int:sprint_id>/items/import",
        views.ItemImportView.as_view(),
        name="api-item-import",
    ),
    path("sprints/<int:sprint_id>/next", labeling.NextItemView.as_view(), name="api-next-item"),
    path("judgments", labeling.JudgmentListView.as_view(), name="api-judgments"),
    path("judgments/<int:pk>", labeling.JudgmentDetailView.as_view(), name="api-judgment"),
    path("assignments/<int:assignment_id>/skip", labeling.SkipView.as_view(), name="api-skip"),
    path("assignments/<int:assignment_id>/flag", labeling.FlagView.as_view(), name="api-flag"),
]
