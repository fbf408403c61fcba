"""User accounts, as leads may manage them.

Leads hold change permission on users so they can add annotators; Django's stock user admin
would then let them tick "superuser" on themselves or reset an administrator's password. Here a
non-superuser may change only accounts without staff access, and never flags or permissions.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

User = get_user_model()

PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


class LeadAwareUserAdmin(UserAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return readonly
        return (*readonly, *PRIVILEGE_FIELDS, "last_login", "date_joined")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return not (obj.is_staff or obj.is_superuser)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, LeadAwareUserAdmin)
