"""Sprints: settings, members, progress, and the "Import items" page.

A lead sees and edits only the sprints they lead. Progress is computed by the changelist query
itself (correlated subqueries, one per figure), so the list costs the same few queries whatever
its length. Imports go through :func:`annotation.services.imports.import_items`, the same door
the API and the command use, so the admin cannot store what they would reject.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from annotation.admin.changes import AuditedDeleteMixin, form_changes, snapshot
from annotation.admin.invitations import SprintInvitationsMixin
from annotation.admin.scoping import SprintScopedAdmin
from annotation.models import Item, Judgment, Sprint, SprintMember, SprintRole
from annotation.services.accounts import add_member, people_led_by
from annotation.services.audit import record_event
from annotation.services.imports import ImportRejected, import_items
from annotation.services.sprint_setup import MEMBER_FIELDS, SPRINT_FIELDS


def with_progress(queryset: QuerySet[Sprint]) -> QuerySet[Sprint]:
    """Annotate ``item_total``, ``judged_item_total`` (items with at least one live judgment)
    and ``live_judgment_total`` (judgments not superseded by a revision)."""

    def per_sprint(rows: QuerySet, aggregate: Count) -> Coalesce:
        grouped = rows.order_by().values("sprint").annotate(n=aggregate).values("n")
        return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)

    items = Item.objects.filter(sprint=OuterRef("pk"))
    live = Judgment.objects.filter(sprint=OuterRef("pk"), superseded_by__isnull=True)
    return queryset.annotate(
        item_total=per_sprint(items, Count("pk")),
        judged_item_total=per_sprint(live, Count("item", distinct=True)),
        live_judgment_total=per_sprint(live, Count("pk")),
    )


def progress_percent(sprint: Sprint) -> float:
    """Live judgments as a share of the judgments the sprint needs (items times k)."""
    needed = sprint.item_total * sprint.overlap_k
    return 100.0 * sprint.live_judgment_total / needed if needed else 0.0


class SprintMemberForm(forms.ModelForm):
    """A member row whose person cannot be swapped once saved: a swap would bypass
    ``add_member`` and leave the person taken off with their API token (revocation follows a
    removal, not a change). Replacing someone is a removal and an add."""

    def clean_user(self):
        user = self.cleaned_data["user"]
        if self.instance.pk and self.instance.user_id != getattr(user, "pk", None):
            raise forms.ValidationError(
                "A member's person cannot be changed; remove the row and add the new person."
            )
        return user


class SprintMemberInline(admin.TabularInline):
    """Members, chosen among the people a lead may see (``people_led_by``): the autocomplete
    offers only them and the form refuses any other id, so a lead cannot pull in (and then
    manage) someone from another team. New people come in through "Invite someone"."""

    model = SprintMember
    form = SprintMemberForm
    fields = MEMBER_FIELDS
    autocomplete_fields = ["user"]
    extra = 0

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = people_led_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ImportItemsForm(forms.Form):
    file = forms.FileField(help_text="JSON Lines or CSV, in Concord, TRL or HH-RLHF shape.")
    file_format = forms.ChoiceField(
        label="Format",
        required=False,
        choices=[("", "Detect from the file"), ("jsonl", "JSON Lines"), ("csv", "CSV")],
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.CONCORD_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than the limit of {settings.CONCORD_IMPORT_MAX_BYTES:,} bytes."
            )
        return upload


@admin.register(Sprint)
class SprintAdmin(AuditedDeleteMixin, SprintInvitationsMixin, SprintScopedAdmin):
    audit_delete_action = "sprint.deleted"
    audit_delete_fields = ["name", "slug"]
    sprint_path = None
    inlines = [SprintMemberInline]
    list_display = [
        "name",
        "slug",
        "rubric",
        "status",
        "overlap_k",
        "deadline",
        "items_column",
        "judged_items_column",
        "progress_column",
        "dashboard_column",
    ]
    list_filter = ["status", "rubric"]
    list_select_related = ["rubric"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_by", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "rubric", "status"]}),
        (
            "Labeling",
            {"fields": ["overlap_k", "gold_rate", "agreement_threshold", "lease_minutes"]},
        ),
        ("Schedule", {"fields": ["deadline", "created_by", "created_at"]}),
    ]
    actions = ["import_items_action"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sprint]:
        return with_progress(super().get_queryset(request))

    @admin.display(description="items", ordering="item_total")
    def items_column(self, sprint: Sprint) -> int:
        return sprint.item_total

    @admin.display(description="judged items", ordering="judged_item_total")
    def judged_items_column(self, sprint: Sprint) -> int:
        return sprint.judged_item_total

    @admin.display(description="progress")
    def progress_column(self, sprint: Sprint) -> str:
        needed = sprint.item_total * sprint.overlap_k
        return format_html(
            '<span title="{} of {} judgments">{}%</span>',
            sprint.live_judgment_total,
            needed,
            f"{progress_percent(sprint):.0f}",
        )

    @admin.display(description="dashboard")
    def dashboard_column(self, sprint: Sprint) -> str:
        # A path, not a reverse(): the dashboard belongs to the reviews app, a floor above.
        return format_html('<a href="/reviews/sprints/{}/dashboard">Dashboard</a>', sprint.pk)

    # --- auditing ------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Sprint, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if change:
            changes = form_changes(form)
            if changes:
                record_event(request.user, "sprint.changed", obj, sprint=obj, changes=changes)
        else:
            changes = snapshot(obj, SPRINT_FIELDS)
            record_event(request.user, "sprint.created", obj, sprint=obj, changes=changes)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        sprint = form.instance
        instances = formset.save(commit=False)
        for member in formset.deleted_objects:
            changes = snapshot(member, MEMBER_FIELDS)
            record_event(request.user, "member.removed", member, sprint=sprint, changes=changes)
            member.delete()
        forms_by_instance = {id(f.instance): f for f in formset.forms}
        added = {id(obj) for obj in formset.new_objects}
        for member in instances:
            creator = not change and not request.user.is_superuser
            if creator and id(member) in added and member.user_id == request.user.pk:
                continue  # the lead creating the sprint, made its lead by save_related
            if id(member) in added:
                # The service checks the lead's role and that the person is theirs to add,
                # whatever the form let through, and audits the add.
                stored = add_member(
                    request.user,
                    sprint,
                    member.user,
                    role=member.role,
                    pseudonym=member.pseudonym,
                )
                member.pk, member._state.adding = stored.pk, False
            else:
                member.save()
                changes = {"user": member.user_id, **form_changes(forms_by_instance[id(member)])}
                record_event(request.user, "member.changed", member, sprint=sprint, changes=changes)
        formset.save_m2m()

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        sprint = form.instance
        if not change and not request.user.is_superuser:
            # A lead who creates a sprint leads it, before the members they listed are added
            # (adding takes a lead); otherwise it would also vanish from their list.
            member = SprintMember.objects.create(
                sprint=sprint, user=request.user, role=SprintRole.LEAD
            )
            changes = snapshot(member, MEMBER_FIELDS)
            record_event(request.user, "member.added", member, sprint=sprint, changes=changes)
        super().save_related(request, form, formsets, change)

    # --- importing -----------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_items_view)
        return [
            path("<path:object_id>/import/", view, name="annotation_sprint_import"),
            *super().get_urls(),
        ]

    @admin.action(description="Import items into the selected sprint", permissions=["change"])
    def import_items_action(
        self, request: HttpRequest, queryset: QuerySet[Sprint]
    ) -> HttpResponseRedirect | None:
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one sprint to import items into.", messages.WARNING
            )
            return None
        sprint = queryset.get()
        return redirect(reverse("admin:annotation_sprint_import", args=[sprint.pk]))

    def import_items_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        sprint = self.get_object(request, unquote(object_id))
        if sprint is None:
            raise Http404("No such sprint.")
        if not self.has_change_permission(request, sprint):
            raise PermissionDenied
        rejected: ImportRejected | None = None
        if request.method == "POST":
            form = ImportItemsForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    result = import_items(
                        sprint,
                        upload,
                        filename=upload.name,
                        file_format=form.cleaned_data["file_format"] or None,
                        actor=request.user,
                    )
                except ImportRejected as exc:
                    rejected = exc
                else:
                    self.message_user(
                        request,
                        f"Imported {upload.name} into {sprint}: {result.created} created, "
                        f"{result.unchanged} unchanged.",
                        messages.SUCCESS,
                    )
                    return redirect(reverse("admin:annotation_sprint_change", args=[sprint.pk]))
        else:
            form = ImportItemsForm()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import items into {sprint}",
            "opts": self.opts,
            "original": sprint,
            "form": form,
            "rejected": rejected,
            "problems": [str(problem) for problem in rejected.import_problems] if rejected else [],
            "has_view_permission": self.has_view_permission(request, sprint),
        }
        return TemplateResponse(request, "admin/annotation/sprint/import_items.html", context)
