"""Pages of the feedback app, under /feedback/: the source picker and each source's dashboard."""

from django.urls import path

from feedback import views

urlpatterns = [
    path("", views.source_picker, name="feedback-sources"),
    path("<slug:slug>/", views.source_dashboard, name="feedback-dashboard"),
]
