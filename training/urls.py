"""Pages of the training app, under /training/."""

from django.urls import path

from training import pages, pages_policies

urlpatterns = [
    path("models", pages.compare_models, name="training-models"),
]
# The policy pages (evaluation evidence, the gate, promotion and rollback).
urlpatterns += pages_policies.urlpatterns
