"""The sprint's "Invite someone" page: a lead brings a new person into a sprint they lead.

The page calls :func:`annotation.services.accounts.invite_member`, which checks the role,
creates the account and the membership, and returns the one-time token; the page then shows
the link once (it is not stored, and the admin marks its pages ``no-store``).
"""

from django import forms
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from annotation.models import SprintRole
from annotation.services.accounts import invite_member
from annotation.services.errors import ConcordError


class InviteMemberForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The name they will log in with.")
    email = forms.EmailField(required=False, help_text="Optional; for your records.")
    role = forms.ChoiceField(choices=SprintRole.choices, initial=SprintRole.ANNOTATOR)


class SprintInvitationsMixin:
    """For the sprint admin: the invite page at ``<sprint id>/invite/``."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.invite_view)
        return [
            path("<path:object_id>/invite/", view, name="annotation_sprint_invite"),
            *super().get_urls(),
        ]

    def invite_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        sprint = self.get_object(request, unquote(object_id))
        if sprint is None:
            raise Http404("No such sprint.")
        if not self.has_change_permission(request, sprint):
            raise PermissionDenied
        issued = None
        form = InviteMemberForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                issued = invite_member(request.user, sprint, **form.cleaned_data)
            except ConcordError as refused:
                for problem in refused.problems:
                    field = problem.get("field")
                    form.add_error(field if field in form.fields else None, problem["message"])
        link = None
        if issued is not None:
            link = request.build_absolute_uri(reverse("invitation-accept", args=[issued.token]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Invite someone to {sprint}",
            "opts": self.opts,
            "original": sprint,
            "form": form,
            "issued": issued,
            "link": link,
        }
        return TemplateResponse(request, "admin/annotation/sprint/invite_member.html", context)
