"""Pages of the training app, under /training/."""

from django.urls import path

from training import pages

urlpatterns = [
    path("models", pages.compare_models, name="training-models"),
]
