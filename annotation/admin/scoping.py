"""Which rows a staff user sees: a lead sees the sprints they lead and what belongs to them.

The rule itself lives in :func:`annotation.services.access.sprints_led_by` (superusers lead
every sprint); the admin classes here only apply it to their querysets, so a lead who types
another sprint's object id into a URL gets the admin's "does not exist" answer, never the row.
"""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from annotation.admin.lookups import AllowListedLookups
from annotation.services.access import sprints_led_by


class SprintScopedAdmin(AllowListedLookups, admin.ModelAdmin):
    """Limits the changelist, change views and list filters to the lead's sprints.

    ``sprint_path`` is the lookup from the model to its sprint; ``None`` for the sprint itself.
    """

    sprint_path: str | None = "sprint"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(self.scope_filter(request))

    def scope_filter(self, request: HttpRequest) -> Q:
        led = sprints_led_by(request.user).values("pk")
        return Q(**{f"{self.sprint_path}__in" if self.sprint_path else "pk__in": led})


class ReadOnlyAdmin(AllowListedLookups, admin.ModelAdmin):
    """For append-only history and imported data: nobody, superusers included, adds, changes
    or deletes these rows through the admin; the database refuses most of it anyway."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline:
    """Mixin for inlines of immutable rows."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
