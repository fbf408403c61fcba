from django.urls import path

from annotation import home, invitation_views, views

urlpatterns = [
    path("", home.home, name="home"),
    path("sprints/<int:sprint_id>/label", views.label, name="label"),
    path("sprints/<int:sprint_id>/label/panel", views.label_panel, name="label-panel"),
    path("judgments/<int:judgment_id>/revise", views.revise, name="revise"),
    path("invitations/<str:token>", invitation_views.accept, name="invitation-accept"),
]
