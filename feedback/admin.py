"""The feedback admin: sources, ingest tokens, and events (read-only), scoped to a source's leads.

Who sees what follows :mod:`feedback.services.feedback_access`: a superuser sees everything; a
staff user who leads sources sees those sources, their events, and the tokens that ingest only
for them; nobody else sees the feedback section. A lead who types another source's object id
into a URL gets the admin's "does not exist" answer, as for sprints. Leads are a role of their
own (``FeedbackSource.leads``), not a Django model permission, so the checks here read it.

Writes go through the services: a token is made by ``issue_token`` and its key shown once on
the page that answers the form (never stored, not even in a message cookie); "Revoke" calls
``revoke_token``; the erasure form calls ``erase_person``. Source edits are audited.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from annotation.admin.changes import form_changes, snapshot
from annotation.admin.items import pretty_json
from annotation.admin.scoping import ReadOnlyAdmin, SprintScopedAdmin
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from feedback.models import FeedbackEvent, FeedbackSource, IngestToken
from feedback.services.erasure import erase_person
from feedback.services.feedback_access import sources_led_by
from feedback.services.ingest_tokens import issue_token, revoke_token, token_name_taken
from feedback.services.redaction import PiiType

SOURCE_FIELDS = ["slug", "name", "description", "retention_days", "detectors", "leads"]


def leads_any_source(request: HttpRequest) -> bool:
    """A superuser (sources or none yet), or the lead of some source."""
    user = request.user
    return (user.is_active and user.is_superuser) or sources_led_by(user).exists()


class SourceLedAdmin(SprintScopedAdmin):
    """Opens the pages to the leads of some source and limits rows to their sources: the
    sprint admins' scoping (superusers see all), with sources in place of sprints.

    ``source_path`` is the lookup from the model to its source; ``None`` for the source itself.
    """

    source_path: str | None = "source"

    def scope_filter(self, request: HttpRequest) -> Q:
        led = sources_led_by(request.user).values("pk")
        return Q(**{f"{self.source_path}__in" if self.source_path else "pk__in": led})

    def has_module_permission(self, request: HttpRequest) -> bool:
        return leads_any_source(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return leads_any_source(request)


class FeedbackSourceForm(forms.ModelForm):
    class Meta:
        model = FeedbackSource
        fields = SOURCE_FIELDS

    def clean_detectors(self) -> list[str]:
        detectors = self.cleaned_data["detectors"] or []
        known = {t.value for t in PiiType}
        if not isinstance(detectors, list) or not set(detectors) <= known:
            raise forms.ValidationError(
                f"A list of detector names among {', '.join(sorted(known))}; [] runs them all."
            )
        return detectors


@admin.register(FeedbackSource)
class FeedbackSourceAdmin(SourceLedAdmin):
    """Superusers create sources and choose their leads; a lead edits the rest of theirs. The
    slug is fixed once made: the stored user and session hashes are keyed by it, and erasure
    would no longer find the events of a renamed source."""

    form = FeedbackSourceForm
    source_path = None
    list_display = ["slug", "name", "retention_days", "created_at"]
    search_fields = ["slug", "name"]
    filter_horizontal = ["leads"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return leads_any_source(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # its events protect it; a source that sent nothing can go from the shell

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        fixed = ["created_at"] + (["slug"] if obj is not None else [])
        return fixed if request.user.is_superuser else [*fixed, "leads"]

    def get_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [*SOURCE_FIELDS, "created_at"]

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        source = form.instance
        if not change:
            changes = snapshot(source, ["slug", "name", "retention_days", "detectors"])
            changes["leads"] = list(source.leads.values_list("pk", flat=True))
            record_event(request.user, "feedback.source_created", source, changes=changes)
        elif changes := form_changes(form):
            record_event(request.user, "feedback.source_changed", source, changes=changes)


class IngestTokenForm(forms.ModelForm):
    """Only a name and the sources: the key is made by ``issue_token``."""

    class Meta:
        model = IngestToken
        fields = ["name", "sources"]

    def clean(self) -> dict:
        cleaned = super().clean()
        name, sources = cleaned.get("name"), cleaned.get("sources")
        if name and sources and token_name_taken(name, list(sources)):
            # A reloaded "key issued" page lands here instead of issuing a second key.
            self.add_error("name", "An active token of these sources has this name already.")
        return cleaned


@admin.register(IngestToken)
class IngestTokenAdmin(SourceLedAdmin):
    """Tokens that ingest only for sources the user leads (a token shared with another lead's
    source is the superuser's to manage: listing it would name that source)."""

    form = IngestTokenForm
    list_display = ["name", "prefix", "sources_column", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    fields = ["name", "prefix", "sources", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_action"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[IngestToken]:
        queryset = admin.ModelAdmin.get_queryset(self, request).prefetch_related("sources")
        if request.user.is_superuser:
            return queryset
        led = sources_led_by(request.user)
        others = FeedbackSource.objects.exclude(pk__in=led.values("pk"))
        return queryset.filter(sources__in=led).exclude(sources__in=others).distinct()

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        made = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
        return made if obj is None else ["name", "sources", *made]

    def get_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return ["name", "sources"] if obj is None else self.fields

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "sources":
            kwargs["queryset"] = sources_led_by(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return leads_any_source(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return leads_any_source(request)  # the revoke action; the fields of a token are fixed

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # revoked, not deleted: the audit log and last use stay readable

    @admin.display(description="sources")
    def sources_column(self, token: IngestToken) -> str:
        return ", ".join(source.slug for source in token.sources.all())

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if change:
            return  # nothing on a token changes through its form
        try:
            issued = issue_token(
                request.user, form.cleaned_data["name"], list(form.cleaned_data["sources"])
            )
        except ConcordError as refused:
            raise PermissionDenied(refused.detail) from refused
        obj.pk, obj.prefix = issued.token.pk, issued.token.prefix
        request.issued_token = issued  # for response_add; the admin object is shared

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        pass  # issue_token set the sources

    def response_add(self, request: HttpRequest, obj, post_url_continue=None) -> HttpResponse:
        """The key, once: on this page and nowhere else (no message, no session, no log)."""
        context = {
            **self.admin_site.each_context(request),
            "title": f"Token {request.issued_token.token.name} issued",
            "opts": self.opts,
            "issued": request.issued_token,
            "changelist_url": reverse("admin:feedback_ingesttoken_changelist"),
        }
        # admin_view wraps every admin page in never_cache: this one is no-store too.
        return TemplateResponse(request, "admin/feedback/ingesttoken/issued.html", context)

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke_action(self, request: HttpRequest, queryset: QuerySet[IngestToken]) -> None:
        revoked = 0
        for token in queryset:
            try:
                revoke_token(request.user, token)
            except ConcordError as refused:
                self.message_user(request, refused.detail, messages.ERROR)
                return
            revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


class ErasureForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=FeedbackSource.objects.none(),
        required=False,
        to_field_name="slug",
        empty_label="Every source you lead",
    )
    kind = forms.ChoiceField(
        choices=[("user_id", "User id"), ("session_id", "Session id")], initial="user_id"
    )
    person = forms.CharField(
        label="Id",
        max_length=200,
        strip=False,
        help_text="The id exactly as the product sends it in events; it is hashed, not kept.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = sources_led_by(user)


@admin.register(FeedbackEvent)
class FeedbackEventAdmin(ReadOnlyAdmin, SourceLedAdmin):
    """Events as stored (redacted at ingest; empty once purged); nothing is edited here. The
    "Erase a person" page removes one user's or session's events through ``erase_person``."""

    list_display = [
        "event_id", "source", "occurred_at", "model_name", "model_version", "thumb", "stars",
        "outcome", "response_count", "text_purged_at",
    ]  # fmt: skip
    list_filter = [("source", admin.RelatedOnlyFieldListFilter), "thumb", "outcome"]
    list_select_related = ["source"]
    search_fields = ["event_id", "trace_id"]
    date_hierarchy = "occurred_at"
    fields = [
        "source", "event_id", "occurred_at", "received_at", "trace_id", "model_name",
        "model_version", "prompt_display", "context_display", "response_id", "response",
        "alternatives_display", "correction", "comment", "signals_display", "stratum", "locale",
        "segment", "tags", "redaction_counts", "text_purged_at",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="prompt")
    def prompt_display(self, event: FeedbackEvent) -> str:
        return pretty_json(event.prompt)

    @admin.display(description="context")
    def context_display(self, event: FeedbackEvent) -> str:
        return pretty_json(event.context)

    @admin.display(description="alternatives")
    def alternatives_display(self, event: FeedbackEvent) -> str:
        return pretty_json(event.alternatives)

    @admin.display(description="signals")
    def signals_display(self, event: FeedbackEvent) -> str:
        return pretty_json(event.signals)

    def get_urls(self):
        view = self.admin_site.admin_view(self.erase_view)
        return [path("erase/", view, name="feedback_feedbackevent_erase"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {
            "erase_url": reverse("admin:feedback_feedbackevent_erase"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def erase_view(self, request: HttpRequest) -> HttpResponse:
        if not leads_any_source(request):
            raise PermissionDenied
        form = ErasureForm(request.POST or None, user=request.user)
        report = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = erase_person(
                    request.user, source=data["source"], **{data["kind"]: data["person"]}
                )
            except ConcordError as refused:
                for problem in refused.problems:
                    field = {"user_id": "person", "session_id": "person"}.get(
                        problem.get("field"), problem.get("field")
                    )
                    form.add_error(field if field in form.fields else None, problem["message"])
            else:
                form = ErasureForm(user=request.user)  # done: the id is not shown back
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase a person's feedback",
            "opts": self.opts,
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/feedback/feedbackevent/erase.html", context)
