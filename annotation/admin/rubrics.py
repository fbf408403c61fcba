"""Rubrics and their criteria.

Rubrics are shared by the whole organisation, so every lead sees every rubric. Once a judgment
answers a rubric it is frozen: its change form and criteria turn read-only (the admin's own
view-only mode, so a forged POST is refused too) and "Create new version" calls
:func:`annotation.services.rubrics.revise_rubric`, the one door for versioning.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse

from annotation.admin.changes import AuditedDeleteMixin, form_changes, snapshot
from annotation.admin.lookups import AllowListedLookups
from annotation.models import Criterion, CriterionKind, Judgment, Rubric, Sprint
from annotation.models.rubrics import FrozenRubricError
from annotation.services.audit import record_event
from annotation.services.rubrics import config_keys_help, revise_rubric, rubric_problems

CRITERION_FIELDS = ["name", "kind", "question", "help_text", "required", "position", "config"]


def is_frozen(rubric: Rubric | None) -> bool:
    """Frozen state, from the changelist/change-view annotation when there is one: the admin
    asks for permissions many times per page and each ``is_frozen`` is a query."""
    if rubric is None or rubric.pk is None:
        return False
    frozen = getattr(rubric, "frozen", None)
    return rubric.is_frozen if frozen is None else frozen


class CriterionFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        # The database allows one preference criterion per rubric; say so here, by form,
        # rather than letting two new ones in one submission end in an IntegrityError.
        preference = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("kind") == CriterionKind.PREFERENCE
        ]
        if len(preference) > 1:
            raise ValidationError("A rubric has exactly one preference criterion.")


class CriterionInline(admin.StackedInline):
    model = Criterion
    formset = CriterionFormSet
    fields = CRITERION_FIELDS
    extra = 0

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "config" and field is not None:
            # The JSON box lists what it may hold; other keys are refused on save.
            field.help_text = "A JSON object. Valid keys by kind: " + config_keys_help()
        return field

    def has_add_permission(self, request: HttpRequest, obj: Rubric | None = None) -> bool:
        return not is_frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Rubric | None = None) -> bool:
        return not is_frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Rubric | None = None) -> bool:
        return not is_frozen(obj) and super().has_delete_permission(request, obj)


class RubricForm(forms.ModelForm):
    class Meta:
        model = Rubric
        fields = ["name", "guidelines"]

    def clean_name(self) -> str:
        # ``version`` is not on the form, so Django would skip the (name, version) check and
        # the database would answer with an IntegrityError instead.
        name = self.cleaned_data["name"]
        version = self.instance.version if self.instance.pk else 1
        clash = Rubric.objects.filter(name=name, version=version).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(
                f"{name} v{version} already exists; open it and create a new version instead."
            )
        return name


@admin.register(Rubric)
class RubricAdmin(AuditedDeleteMixin, AllowListedLookups, admin.ModelAdmin):
    audit_delete_action = "rubric.deleted"
    audit_delete_fields = ["name", "version"]
    form = RubricForm
    inlines = [CriterionInline]
    list_display = ["name", "version", "criteria_count", "sprint_count", "is_frozen_display"]
    list_filter = ["name"]
    search_fields = ["name", "guidelines"]
    readonly_fields = ["version", "previous", "created_by", "created_at"]
    fields = ["name", "version", "guidelines", "previous", "created_by", "created_at"]
    actions = ["create_new_version"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rubric]:
        def count(model, field: str) -> Coalesce:
            rows = (
                model.objects.filter(**{field: OuterRef("pk")})
                .order_by()
                .values(field)
                .annotate(n=Count("pk"))
                .values("n")
            )
            return Coalesce(Subquery(rows), 0)

        return (
            super()
            .get_queryset(request)
            .select_related("previous", "created_by")
            .annotate(
                frozen=Exists(Judgment.objects.filter(rubric=OuterRef("pk"))),
                criteria_total=count(Criterion, "rubric"),
                sprint_total=count(Sprint, "rubric"),
            )
        )

    @admin.display(description="criteria", ordering="criteria_total")
    def criteria_count(self, rubric: Rubric) -> int:
        return rubric.criteria_total

    @admin.display(description="sprints", ordering="sprint_total")
    def sprint_count(self, rubric: Rubric) -> int:
        return rubric.sprint_total

    @admin.display(description="frozen", boolean=True, ordering="frozen")
    def is_frozen_display(self, rubric: Rubric) -> bool:
        return is_frozen(rubric)

    def has_change_permission(self, request: HttpRequest, obj: Rubric | None = None) -> bool:
        return not is_frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Rubric | None = None) -> bool:
        return not is_frozen(obj) and super().has_delete_permission(request, obj)

    # --- auditing ------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Rubric, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if change:
            changes = form_changes(form)
            if changes:
                record_event(request.user, "rubric.changed", obj, changes=changes)
        else:
            record_event(
                request.user, "rubric.created", obj, changes=snapshot(obj, ["name", "version"])
            )

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        rubric = form.instance
        instances = formset.save(commit=False)
        for criterion in formset.deleted_objects:
            record_event(
                request.user,
                "criterion.deleted",
                criterion,
                changes={"rubric": rubric.pk, **snapshot(criterion, ["name", "kind"])},
            )
            criterion.delete()
        forms_by_instance = {id(f.instance): f for f in formset.forms}
        added = {id(obj) for obj in formset.new_objects}
        for criterion in instances:
            criterion.save()
            if id(criterion) in added:
                changes = {"rubric": rubric.pk, **snapshot(criterion, CRITERION_FIELDS)}
                record_event(request.user, "criterion.added", criterion, changes=changes)
            else:
                changes = {"rubric": rubric.pk, "name": criterion.name}
                changes.update(form_changes(forms_by_instance[id(criterion)]))
                record_event(request.user, "criterion.changed", criterion, changes=changes)
        formset.save_m2m()

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        problems = rubric_problems(form.instance)
        if problems:
            self.message_user(
                request,
                "Not ready for an active sprint yet: " + "; ".join(problems),
                messages.WARNING,
            )

    # --- versioning ----------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view(self.new_version_view)
        return [
            path("<path:object_id>/new-version/", view, name="annotation_rubric_new_version"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rubric = self.get_object(request, unquote(object_id))
        newer = None
        if rubric is not None:
            newer = (
                Rubric.objects.filter(name=rubric.name, version__gt=rubric.version)
                .order_by("-version")
                .first()
            )
        extra = {
            "rubric_frozen": is_frozen(rubric),
            "newer_version": newer,
            "can_create_version": rubric is not None
            and newer is None
            and self.has_add_permission(request),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def new_version_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        rubric = self.get_object(request, unquote(object_id))
        if rubric is None:
            raise Http404("No such rubric.")
        new = self._revise(request, rubric)
        target = new or rubric
        return redirect(reverse("admin:annotation_rubric_change", args=[target.pk]))

    @admin.action(description="Create new version", permissions=["add"])
    def create_new_version(self, request: HttpRequest, queryset: QuerySet[Rubric]) -> None:
        for rubric in queryset:
            self._revise(request, rubric)

    def _revise(self, request: HttpRequest, rubric: Rubric) -> Rubric | None:
        try:
            with transaction.atomic():
                new = revise_rubric(rubric, request.user)
        except FrozenRubricError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return None
        self.message_user(
            request,
            f"Created {new} with {new.criteria.count()} criteria. Point a sprint at it to use it.",
            messages.SUCCESS,
        )
        return new
