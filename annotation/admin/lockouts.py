"""Login lock-outs in the admin: django-axes' own admin of failed-login records, scoped so that
a lead also sees the records of the people in sprints they lead and can clear their lock-outs.

Superusers keep everything axes' admin offers (every record, its details, delete). A lead sees
only the usernames, times and counts of their own people and has one action, "Clear the
lock-out", which goes through :func:`annotation.services.lockouts.clear_lockout` (it checks the
lead leads that person, and audits the clearing). ``manage.py axes_reset_username <name>`` does
the same from a shell.
"""

from axes.admin import AccessAttemptAdmin, IsLockedOutFilter
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from annotation.admin.lookups import AllowListedLookups
from annotation.services.access import sprints_led_by
from annotation.services.errors import ConcordError
from annotation.services.lockouts import attempts_visible_to, clear_lockout


def _is_lead(request: HttpRequest) -> bool:
    user = request.user
    return user.is_active and user.is_staff and sprints_led_by(user).exists()


class LockoutAdmin(AllowListedLookups, AccessAttemptAdmin):
    actions = ["clear_lockouts", *AccessAttemptAdmin.actions]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessAttempt]:
        return attempts_visible_to(request.user).order_by("-attempt_time")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or _is_lead(request)

    def has_view_permission(self, request: HttpRequest, obj: AccessAttempt | None = None) -> bool:
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        # A lead sees the list, never one record's details (its form data and user agent).
        return obj is None and _is_lead(request)

    def has_clear_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or _is_lead(request)

    def get_list_display(self, request: HttpRequest):
        if request.user.is_superuser:
            return super().get_list_display(request)
        return ["username", "attempt_time", "failures_since_start", "status"]

    def get_list_display_links(self, request: HttpRequest, list_display):
        if request.user.is_superuser:
            return super().get_list_display_links(request, list_display)
        return None

    def get_list_filter(self, request: HttpRequest):
        if request.user.is_superuser:
            return super().get_list_filter(request)
        return [IsLockedOutFilter]

    def get_search_fields(self, request: HttpRequest):
        return ["username"] if not request.user.is_superuser else super().get_search_fields(request)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("cleanup_expired_attempts", None)
        return actions

    @admin.action(
        description="Clear the lock-out (the person may log in again at once)",
        permissions=["clear"],
    )
    def clear_lockouts(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        usernames = sorted({name for name in queryset.values_list("username", flat=True) if name})
        cleared = []
        for username in usernames:
            try:
                clear_lockout(request.user, username)
            except ConcordError as exc:
                self.message_user(request, f"{username}: {exc.detail}", messages.ERROR)
            else:
                cleared.append(username)
        if cleared:
            self.message_user(request, f"Lock-out cleared for {', '.join(cleared)}.")


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, LockoutAdmin)
