"""The page behind an invitation link: the invited person chooses a password and is in.

Open to anyone holding the link (the token is the credential). A link that is unknown, used
or expired answers 410 with a page that says which and what to do; nothing about the account
is shown then. The page is never cached, and the site's ``same-origin`` referrer policy keeps
the token out of requests to other sites.
"""

from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from annotation.services.accounts import InvitationRefused, accept_invitation, open_invitation
from annotation.services.errors import ConcordError

# The account was just given its password here; no other backend has anything to say.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _refused(request: HttpRequest, refused: InvitationRefused) -> HttpResponse:
    context = {"message": refused.detail}
    return render(request, "annotation/invitation_refused.html", context, status=refused.status)


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
def accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = open_invitation(token)
    except InvitationRefused as refused:
        return _refused(request, refused)
    form = SetPasswordForm(invitation.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accept_invitation(token, form.cleaned_data["new_password1"])
        except InvitationRefused as refused:
            return _refused(request, refused)
        except ConcordError as invalid:
            form.add_error("new_password1", invalid.detail)
        else:
            login(request, user, backend=LOGIN_BACKEND)
            return redirect("home")
    context = {"form": form, "invitation": invitation}
    return render(request, "annotation/invitation_accept.html", context)
