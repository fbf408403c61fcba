"""Which query-string filters a changelist accepts: an allow-list, not Django's deny-list.

Django's stock ``ModelAdmin.lookup_allowed`` accepts any lookup on a model's own fields and
one hop through a relation, so ``/admin/auth/user/?auth_token__key__startswith=ab&username=x``
answered "1 user" or "0 users" and let a lead read anyone's API token a character at a time;
``?password__startswith=`` and ``?actor__password__startswith=`` are the same oracle. Every admin
of ours takes :class:`AllowListedLookups`, which accepts only the parameters its own list filters
and date hierarchy produce, plus the names an admin lists in ``allowed_lookups``. Anything else
raises Django's ``DisallowedModelAdminLookup``, which the admin answers with a 400 before any
row is counted. Search (``q``), ordering and paging are not lookups and are unaffected.
"""

from django.contrib.admin import AdminSite, SimpleListFilter
from django.contrib.admin.filters import EmptyFieldListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.http import HttpRequest

# The suffixes Django's field list filters put after a field path, by the kind of field.
_RELATION_SUFFIXES = ("isnull",)
_DATE_SUFFIXES = ("gte", "lt", "isnull")
_VALUE_SUFFIXES = ("exact", "isnull")
_DATE_HIERARCHY_SUFFIXES = ("year", "month", "day")


def filter_parameters(model: type[models.Model], list_filter_item: object) -> set[str]:
    """The query-string names one ``list_filter`` entry reads, as Django's filters spell them."""
    if isinstance(list_filter_item, type) and issubclass(list_filter_item, SimpleListFilter):
        return {list_filter_item.parameter_name}
    if isinstance(list_filter_item, list | tuple):
        path, filter_class = list_filter_item
    else:
        path, filter_class = list_filter_item, None
    if isinstance(filter_class, type) and issubclass(filter_class, EmptyFieldListFilter):
        return {f"{path}__isempty"}
    field = get_fields_from_path(model, path)[-1]
    if field.is_relation:
        target = field.target_field.name
        return {f"{path}__{target}__exact", *(f"{path}__{s}" for s in _RELATION_SUFFIXES)}
    suffixes = _DATE_SUFFIXES if isinstance(field, models.DateField) else _VALUE_SUFFIXES
    return {path, *(f"{path}__{s}" for s in suffixes)}


class AllowListedLookups:
    """Mixin for every ``ModelAdmin``: refuse changelist lookups that are not on the list.

    ``allowed_lookups`` names extra query-string parameters an admin wants accepted exactly
    (links from other pages, say); it is empty unless an admin needs one.
    """

    allowed_lookups: tuple[str, ...] = ()

    def allowed_lookup_names(self, request: HttpRequest | None) -> set[str]:
        names = set(self.allowed_lookups)
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        for item in list_filter:
            names |= filter_parameters(self.model, item)
        if self.date_hierarchy:
            names |= {f"{self.date_hierarchy}__{s}" for s in _DATE_HIERARCHY_SUFFIXES}
        return names

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup in self.allowed_lookup_names(request)


def allow_list_every_admin(site: AdminSite) -> list[type[models.Model]]:
    """Give :class:`AllowListedLookups` to every admin registered on ``site`` without it.

    Our admins take the mixin in their class statement; this catches the admins other apps
    register (Django's groups, DRF's tokens, django-axes' logs) and any added later, so no
    changelist anywhere answers a lookup that is not on its list. Runs from
    ``AnnotationConfig.ready``, after the admin's autodiscovery. Returns the models re-wrapped.
    """
    wrapped = []
    for model, model_admin in list(site._registry.items()):
        admin_class = type(model_admin)
        if isinstance(model_admin, AllowListedLookups):
            continue
        allow_listed = type(admin_class.__name__, (AllowListedLookups, admin_class), {})
        allow_listed.__module__ = admin_class.__module__
        site.unregister(model)
        site.register(model, allow_listed)
        wrapped.append(model)
    return wrapped
