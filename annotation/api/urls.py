from django.urls import path

from annotation.api import labeling, setup, views

urlpatterns = [
    path("auth/token", views.ObtainTokenView.as_view(), name="api-token"),
    path(
        "sprints/<id:sprint_id>/items/import",
        views.ItemImportView.as_view(),
        name="api-item-import",
    ),
    path("sprints/<id:sprint_id>/next", labeling.NextItemView.as_view(), name="api-next-item"),
    path("judgments", labeling.JudgmentListView.as_view(), name="api-judgments"),
    path("judgments/<id:pk>", labeling.JudgmentDetailView.as_view(), name="api-judgment"),
    path("assignments/<id:assignment_id>/skip", labeling.SkipView.as_view(), name="api-skip"),
    path("assignments/<id:assignment_id>/flag", labeling.FlagView.as_view(), name="api-flag"),
    *setup.urlpatterns,
]
