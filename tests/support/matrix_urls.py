"""Every URL pattern of the project, filled with another team's ids, for the permission matrix.

:func:`url_patterns` walks ``get_resolver()`` recursively (the Django admin included), so an
endpoint added tomorrow is in the matrix the day it is added. :func:`fill` turns one pattern into
the concrete requests an actor makes: the path arguments come from the *target* team (the team
that is not the actor's), and a pattern whose arguments nothing here can fill is an error, so the
matrix can never silently skip a new endpoint.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

WRITE_METHODS = ("post", "put", "patch", "delete")
ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")
# Arguments that name no team's object (a link token, an app, a path under the admin).
NEUTRAL_ARGUMENTS = {"token", "app_label", "url", "content_type_id", "uidb64"}
# Path arguments that name a shared row (see SHARED_MODELS): any lead may read it.
SHARED_ARGUMENTS = {"rubric_id"}
# Rows every lead shares: the Leads group, and rubrics, a library any lead may read and version
# (a sprint keeps the version it was given, so a new version changes no team's sprint).
SHARED_MODELS = {"auth.group", "annotation.rubric"}
User = get_user_model()


@dataclass(frozen=True)
class Pattern:
    """One leaf URL pattern: its template (``api/v1/judgments/<int:pk>``), its name, its view."""

    template: str
    name: str | None
    callback: object
    arguments: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.template.startswith("admin/")

    @property
    def is_api(self) -> bool:
        return self.template.startswith("api/")

    def methods(self) -> tuple[str, ...]:
        """GET and each write method the view has a handler for; function views (the admin's
        included) answer GET and POST."""
        view_class = getattr(self.callback, "view_class", None) or getattr(
            self.callback, "cls", None
        )
        if view_class is None:
            return ("get", "post")
        return ("get", *(m for m in WRITE_METHODS if hasattr(view_class, m)))


@dataclass
class Call:
    """One request: ``path`` with its query string, and whether its path names the target
    team's object (then any 2xx is a leak, whatever the body says)."""

    pattern: Pattern
    path: str
    names_object: bool
    query: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.path + ("?" + urlencode(self.query, doseq=True) if self.query else "")


def _template(pattern) -> str:
    text = str(pattern.pattern)
    if text.startswith("^"):
        text = text[1:]
    return text[:-1] if text.endswith("$") else text


def url_patterns() -> list[Pattern]:
    found: list[Pattern] = []

    def walk(entries, prefix: str) -> None:
        for entry in entries:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + _template(entry))
            elif isinstance(entry, URLPattern):
                template = prefix + _template(entry)
                syntax = REGEX_GROUP if "(?P<" in template else ROUTE_ARGUMENT
                names = [m["name"] for m in syntax.finditer(template)]
                found.append(Pattern(template, entry.name, entry.callback, tuple(names)))

    walk(get_resolver().url_patterns, "")
    return found


def admin_model_for(pattern: Pattern) -> type[Model] | None:
    """The model whose ModelAdmin serves an admin pattern: from the view's ``model_admin``,
    else from the URL name (``annotation_sprint_import``)."""
    model_admin = getattr(pattern.callback, "model_admin", None)
    if model_admin is not None:
        return model_admin.model
    callback = getattr(pattern.callback, "__wrapped__", pattern.callback)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, admin.ModelAdmin):
        return owner.model
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if pattern.name and pattern.name.startswith(prefix):
            return model
    return None


class Unfillable(LookupError):
    """A pattern's argument that nothing in the matrix knows how to fill."""


def target_object(team, model: type[Model], actor) -> Model | None:
    label = model._meta.label_lower
    if label == "auth.group":
        return None
    if label == "authtoken.tokenproxy":
        return team.reviewer
    return actor.overrides.get(label) or team.objects.get(label)


def argument_value(pattern: Pattern, name: str, team, actor) -> str:
    """The value of one path argument, from the target team (or the actor's own old rows for a
    removed member)."""
    objects = {
        "sprint_id": "annotation.sprint",
        "assignment_id": "annotation.assignment",
        "judgment_id": "annotation.judgment",
        "dispute_id": "reviews.dispute",
        "run_id": "training.trainingrun",
        "model_id": "training.modelversion",
        "selection_id": "training.selectionrun",
        "policy_id": "training.policyversion",
        "evaluation_id": "training.policyevaluation",
        "id": "auth.user",
        "user_id": "auth.user",
        "rubric_id": "annotation.rubric",
        "sample_id": "feedback.feedbacksample",
    }
    by_view = {"api-judgment": "annotation.judgment", "api-export": "exports.datasetversion",
               "api-export-download": "exports.datasetversion",
               "api-feedback-event": "feedback.feedbackevent"}  # fmt: skip
    if name == "pk" and pattern.name in by_view:
        label = by_view[pattern.name]
    elif name == "object_id" and pattern.name == "view_on_site":
        return str(team.sprint.pk)
    elif name == "object_id":
        model = admin_model_for(pattern)
        if model is None:
            raise Unfillable(f"{pattern.template}: no ModelAdmin serves it")
        if model._meta.label_lower == "auth.group":
            from annotation.admin.leads import ensure_leads_group

            return str(ensure_leads_group().pk)
        obj = target_object(team, model, actor)
        if obj is None:
            raise Unfillable(f"{pattern.template}: the teams have no {model._meta.label_lower}")
        return str(obj.pk)
    elif name in objects:
        label = objects[name]
    elif name == "slug" and pattern.template.startswith("feedback/"):
        return team.objects["feedback.feedbacksource"].slug
    elif name == "content_type_id":
        return str(ContentType.objects.get_for_model(team.sprint).pk)
    elif name == "uidb64":
        return urlsafe_base64_encode(force_bytes(team.reviewer.pk))
    elif name == "token":
        return "set-password"
    elif name == "app_label":
        return "annotation"
    elif name == "url":
        return "no-such-page/"
    else:
        raise Unfillable(f"{pattern.template}: nothing fills <{name}>")
    obj = actor.overrides.get(label) or team.objects[label]
    return str(obj.pk)


def fill(pattern: Pattern, team, actor) -> Call:
    values = {name: argument_value(pattern, name, team, actor) for name in pattern.arguments}

    def route(match: re.Match) -> str:
        return values[match["name"]]

    syntax = REGEX_GROUP if "(?P<" in pattern.template else ROUTE_ARGUMENT
    path = "/" + syntax.sub(route, pattern.template)
    match = resolve(path)
    if match.func is not pattern.callback and match.url_name != pattern.name:
        raise Unfillable(f"{pattern.template}: {path} resolves to {match.view_name}")
    model = admin_model_for(pattern) if pattern.is_admin else None
    shared = model is not None and model._meta.label_lower in SHARED_MODELS
    neutral = NEUTRAL_ARGUMENTS | SHARED_ARGUMENTS
    names_object = not shared and any(name not in neutral for name in pattern.arguments)
    return Call(pattern, path, names_object)


def query_variants(call: Call, actor) -> list[dict]:
    """Query strings a GET is tried with besides none: a changelist filtered to
    the other team's sprint, an API list asked for the other team's sprint, and each
    autocomplete a form offers."""
    name = call.pattern.name or ""
    sprint = actor.target.sprint.pk
    if name == "autocomplete":
        return list(autocomplete_queries())
    variants = [{}]
    if name.endswith("_changelist"):
        model = admin_model_for(call.pattern)
        if model is not None and any(f.name == "sprint" for f in model._meta.get_fields()):
            variants.append({"sprint__id__exact": sprint})
    elif call.pattern.template == "api/v1/leaderboard":
        # The other team's sprint alone, and beside the caller's own.
        variants.append({"sprints": sprint})
        if actor.own is not None:
            variants.append({"sprints": f"{actor.own.sprint.pk},{sprint}"})
    elif call.pattern.template.startswith("api/v1/feedback/") and not call.pattern.arguments:
        variants.append({"source": actor.target.objects["feedback.feedbacksource"].slug})
    elif call.pattern.template.startswith("api/v1/") and not call.pattern.arguments:
        variants.append({"sprint": sprint})
    return variants


def autocomplete_queries() -> Iterator[dict]:
    """Every (model, field) whose target the admin can search: what the admin's autocomplete
    view answers for, whether or not a form shows it today."""
    for model in apps.get_models():
        for relation in model._meta.get_fields():
            if not (relation.is_relation and relation.concrete and relation.related_model):
                continue
            remote_admin = admin.site._registry.get(relation.related_model)
            if remote_admin is None or not remote_admin.search_fields:
                continue
            yield {"app_label": model._meta.app_label, "model_name": model._meta.model_name,
                   "field_name": relation.name, "term": ""}  # fmt: skip


def secret_lookups(model: type[Model], target_user: Model) -> Iterator[tuple[dict, dict]]:
    """Pairs of changelist filters that differ only in a guessed prefix of ``target_user``'s
    API token or password hash: (true prefix, false prefix), for each path from ``model`` to
    the user model."""
    paths = [""] if model is User else [
        f.name + "__" for f in model._meta.get_fields()
        if f.is_relation and f.concrete and f.related_model is User
    ]  # fmt: skip
    key = Token.objects.get(user=target_user).key
    for path in paths:
        select = {f"{path}id__exact": target_user.pk} if path else {"id__exact": target_user.pk}
        yield (
            {**select, f"{path}auth_token__key__startswith": key[:6]},
            {**select, f"{path}auth_token__key__startswith": "zzzzzz"},
        )
        yield (
            {**select, f"{path}password__startswith": target_user.password[:12]},
            {**select, f"{path}password__startswith": "zzzzzz"},
        )
