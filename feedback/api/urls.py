"""The feedback API under /api/v1/feedback/. Each door's views live in their own module."""

from django.urls import path

urlpatterns: list = [
    # ingest (feedback.api.events)
    # erasures (feedback.api.erasures)
    # samples (feedback.api.samples)
    # dashboard and regeneration prompts (feedback.api.insights)
]
