"""Routes of the training app under /api/v1/."""

from django.urls import path

from training.api import evaluations, policies, registry, runs, selection

urlpatterns = [
    path("training-runs", runs.TrainingRunListView.as_view(), name="api-training-runs"),
    path(
        "training-runs/<id:run_id>",
        runs.TrainingRunDetailView.as_view(),
        name="api-training-run",
    ),
    path(
        "training-runs/<id:run_id>/cancel",
        runs.TrainingRunCancelView.as_view(),
        name="api-training-run-cancel",
    ),
    path("base-models", runs.BaseModelListView.as_view(), name="api-base-models"),
    path("models", registry.ModelVersionListView.as_view(), name="api-models"),
    path("models/<id:model_id>", registry.ModelVersionDetailView.as_view(), name="api-model"),
    path(
        "models/<id:model_id>/promote",
        registry.PromoteView.as_view(),
        name="api-model-promote",
    ),
    path("models/<id:model_id>/score", registry.ScoreView.as_view(), name="api-model-score"),
    path(
        "sprints/<id:sprint_id>/select-next",
        selection.SelectNextView.as_view(),
        name="api-select-next",
    ),
    path(
        "selections/<id:selection_id>",
        selection.SelectionDetailView.as_view(),
        name="api-selection",
    ),
]
# Policies (the registry, promotion through the gate, rollback) and their evaluation sprints.
urlpatterns += policies.urlpatterns + evaluations.urlpatterns
