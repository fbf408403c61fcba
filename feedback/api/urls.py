"""The feedback API under /api/v1/feedback/. Each door's views live in their own module."""

from django.urls import path

from feedback.api.erasures import ErasureView
from feedback.api.events import EventDetailView, EventsView, SourceListView
from feedback.api.insights import FeedbackDashboardView, RegenerationPromptsView
from feedback.api.samples import SampleDetailView, SamplesView

urlpatterns: list = [
    # ingest and reading (feedback.api.events)
    path("events", EventsView.as_view(), name="api-feedback-events"),
    path("events/<int:pk>", EventDetailView.as_view(), name="api-feedback-event"),
    path("sources", SourceListView.as_view(), name="api-feedback-sources"),
    # erasures (feedback.api.erasures)
    path("erasures", ErasureView.as_view(), name="api-feedback-erasures"),
    # samples (feedback.api.samples)
    path("samples", SamplesView.as_view(), name="api-feedback-samples"),
    path("samples/<id:sample_id>", SampleDetailView.as_view(), name="api-feedback-sample"),
    # dashboard and regeneration prompts (feedback.api.insights)
    path("dashboard", FeedbackDashboardView.as_view(), name="api-feedback-dashboard"),
    path(
        "regeneration-prompts",
        RegenerationPromptsView.as_view(),
        name="api-feedback-regeneration-prompts",
    ),
]
