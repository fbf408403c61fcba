"""User accounts in the admin: leads see the people of their sprints, and change nobody.

A lead (staff in the Leads group) sees, in the changelist, the change form (read-only), the
history and the autocomplete of the sprint member list, only the people in sprints they lead
(:func:`annotation.services.accounts.people_led_by`); anyone else's account answers the
admin's "does not exist". Only a superuser adds, changes or deletes an account, or sets a
password (``/admin/auth/user/<id>/password/`` answers 403 to everyone else): a lead brings a new
person in by invitation (the sprint's "Invite someone" page) and the person chooses their own
password. API tokens are for superusers only.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from annotation.admin.lookups import AllowListedLookups
from annotation.services.accounts import people_led_by

User = get_user_model()


def _is_superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class LeadAwareUserAdmin(AllowListedLookups, UserAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if _is_superuser(request):
            return queryset
        return queryset.filter(pk__in=people_led_by(request.user).values("pk"))

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if _is_superuser(request) or obj is None:
            return fieldsets
        # A lead reads who someone is, not the start of their password hash or their rights.
        personal, dates = fieldsets[1], fieldsets[3]
        return [(None, {"fields": ("username", "is_active")}), personal, dates]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return _is_superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return _is_superuser(request) and super().has_delete_permission(request, obj)


class SuperuserTokenAdmin(AllowListedLookups, TokenAdmin):
    """DRF's token admin, for superusers alone whatever permissions a group holds: a token is
    a password, and a lead has no business reading one."""

    def superuser_only(self, request: HttpRequest, obj=None) -> bool:
        return _is_superuser(request)

    has_module_permission = has_view_permission = superuser_only
    has_add_permission = has_change_permission = has_delete_permission = superuser_only


for model, model_admin in ((User, LeadAwareUserAdmin), (TokenProxy, SuperuserTokenAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
