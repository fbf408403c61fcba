"""The permission matrix's engine: actors, the requests each makes, and what counts as a leak.

Each request runs inside a savepoint that is rolled back afterwards, so every request sees the
same two teams, and the database is fingerprinted before the rollback: a changed table is a
write that stuck. The bodies are chosen so that nothing in them is the caller's to write (the
other team's ids, a wrong old password, another team's model as a base model), so for *every*
actor in the matrix a stored write is a finding. A response is a leak when it is a 2xx and

- its body holds one of the markers of data that is not the caller's (:mod:`matrix_teams`), or
- its path names the other team's object (any 2xx there acted on or showed it), or
- (admin changelists) the rows it lists depend on a secret: the same filter with a true and a
  false prefix of a user's API token or password hash answers different counts.

A 5xx is reported too: it may hide a leak, and is a bug of its own.
"""

import hashlib
import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from html.parser import HTMLParser
from unittest import mock

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Model
from django.test import Client
from django.test import client as test_client
from rest_framework.authtoken.models import Token

from tests.support.matrix_urls import Call, Pattern, admin_model_for, target_object

FINGERPRINTED_APPS = {
    "annotation", "reviews", "exports", "training", "feedback", "auth", "authtoken", "axes"
}  # fmt: skip
# Doors whose every use the login throttle rightly records (attempts, logins, logouts).
LOGIN_DOORS = {"login", "logout", "api-token"}
TAKEN = "taken-over"
NEW_PASSWORD = "Taken-over-pass-9!"


@dataclass
class Actor:
    """Who calls: ``user`` (None: anonymous), their own team (if any), the team whose ids they
    use, and the markers that must never reach them."""

    name: str
    user: Model | None
    own: object | None
    target: object
    forbidden: list[str]
    overrides: dict[str, Model] = field(default_factory=dict)
    session_key: str | None = None
    token: str | None = None

    def login(self) -> None:
        if self.user is None:
            return  # anonymous, or an ingest client whose ``token`` is an ingest key
        client = Client()
        client.force_login(self.user)
        self.session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.token = Token.objects.get_or_create(user=self.user)[0].key

    def client(self, api: bool) -> Client:
        extra = {"HTTP_AUTHORIZATION": f"Token {self.token}"} if api and self.token else {}
        client = Client(raise_request_exception=False, **extra)
        if self.session_key:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.session_key
        return client


# --- what the database holds --------------------------------------------------------------


def fingerprinted_models() -> list[type[Model]]:
    """Every concrete model of our apps, users, groups, tokens and the login throttle's rows
    (sessions and the admin's log are left out: they change when anyone merely knocks)."""
    tables = set(connection.introspection.table_names())
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in FINGERPRINTED_APPS
        and not model._meta.proxy
        and model._meta.db_table in tables
    ]


# Bookkeeping any authenticated knock rightly writes: an ingest key's last use.
UNFINGERPRINTED_FIELDS = {"feedback.ingesttoken": {"last_used_at"}}


def fingerprint(models: list[type[Model]]) -> dict[str, str]:
    """A digest of every row of every table that holds permission-relevant data."""
    digests = {}
    for model in models:
        skipped = UNFINGERPRINTED_FIELDS.get(model._meta.label_lower, set())
        names = [f.attname for f in model._meta.concrete_fields if f.name not in skipped]
        rows = model._base_manager.order_by("pk").values_list(*names)
        digests[model._meta.label_lower] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return digests


# --- forms, as a browser would submit them ------------------------------------------------


class FormFields(HTMLParser):
    """The fields of a page's POST forms (the logout form left out), with what a browser would
    send for them: checked boxes, selected (or first) options, textarea text."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.in_form = False
        self.select: str | None = None
        self.select_value: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.in_form = a.get("method", "").lower() == "post" and a.get("id") != "logout-form"
        elif not self.in_form or ("name" not in a and tag != "option"):
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self.select, self.select_value = a["name"], None
        elif tag == "option" and self.select is not None:
            if self.select_value is None or "selected" in a:
                self.select_value = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields.append((a["name"], ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "select" and self.select is not None:
            if self.select_value is not None:
                self.fields.append((self.select, self.select_value))
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)


def harvested_form(html: str, actor: Actor) -> dict[str, list[str]]:
    """The page's form as a browser would post it, with every field a takeover would change
    changed: names and addresses, passwords, the active flag, and a training form pointed at
    the other team's run as its base model."""
    parser = FormFields()
    parser.feed(html)
    body: dict[str, list[str]] = {}
    for name, value in parser.fields:
        body.setdefault(name, []).append(value)
    for name in list(body):
        short = name.rsplit("-", 1)[-1]
        if short in {"name", "first_name", "last_name", "description", "guidelines", "reason",
                     "rationale", "username", "slug", "model_name", "pseudonym"}:  # fmt: skip
            body[name] = [TAKEN]
        elif short == "email":
            body[name] = [f"{TAKEN}@example.com"]
        elif short in {"password1", "password2"}:
            body[name] = [NEW_PASSWORD]
        elif short == "is_active":
            del body[name]
    if "base_model" in body:
        body["base_model"] = [str(actor.target.run_artifacts())]
        own = actor.own or actor.target
        body["dataset"] = [str(own.objects["exports.datasetversion"].pk)]
    return body


# --- the requests of one cell ---------------------------------------------------------------


def api_body(pattern: Pattern, actor: Actor) -> list[dict]:
    team = actor.target
    own = actor.own or team
    assignment = actor.overrides.get("annotation.assignment") or team.assignment
    answers = {"preference": {"ranking": ["a", "b"], "strength": 2},
               "helpfulness": {"a": 4, "b": 3}}  # fmt: skip
    dataset = team.objects["exports.datasetversion"].pk
    bodies = {
        "api-token": [{"username": team.reviewer.username, "password": "wrong"}],
        "api-judgments": [{"assignment": assignment.pk, "answers": answers, "seconds": 5}],
        "api-skip": [{"reason": TAKEN}],
        "api-flag": [{"reason": TAKEN}],
        "api-dispute-resolve": [{"ranking": ["b", "a"], "rationale": TAKEN}],
        "api-dispute-void": [{"reason": TAKEN}],
        "api-exports": [{"sprints": [team.sprint.pk], "kind": "preference", "format": "jsonl"}],
        "api-training-runs": [
            {"dataset": dataset, "epochs": 1},
            {
                "dataset": own.objects["exports.datasetversion"].pk,
                "base_model": str(team.run_artifacts()),
                "epochs": 1,
            },
        ],
        "api-model-promote": [{"stage": "production"}],
        "api-policy-promote": [{"stage": "production", "override_reason": TAKEN}],
        "api-policy-rollback": [{"reason": TAKEN}],
        "api-model-rollback": [{"reason": TAKEN}],
        "api-model-score": [
            {"prompt": "hello", "responses": ["a", "b"]},
            # Batch scoring, and a candidate scored for evaluation (open to its leads only).
            {"items": [{"prompt": "hello", "responses": ["a", "b"]}], "purpose": "evaluation"},
        ],
        "api-select-next": [{"size": 1, "name": TAKEN, "slug": TAKEN}],
        "api-sprints": [{"name": TAKEN, "slug": "matrix-new", "rubric": team.sprint.rubric_id}],
        "api-sprint": [{"name": TAKEN, "status": "closed"}],
        "api-sprint-members": [
            {"user": own.reviewer.pk, "role": "lead"},
            {"username": TAKEN, "role": "lead"},
        ],
        "api-sprint-member": [{"role": "lead", "pseudonym": TAKEN}],
        "api-feedback-events": [
            {
                "source": team.objects["feedback.feedbacksource"].slug,
                "events": [
                    {
                        "event_id": TAKEN,
                        "occurred_at": "2026-12-05T10:00:00Z",
                        "model": {"name": TAKEN},
                        "prompt": TAKEN,
                        "response": TAKEN,
                    }
                ],
            },
        ],
        "api-rubrics": [
            {
                "name": TAKEN,
                "criteria": [{"name": "preference", "kind": "preference", "question": TAKEN}],
            },
        ],
    }
    return bodies.get(pattern.name, [{}])


def page_body(pattern: Pattern, actor: Actor) -> list[dict]:
    team = actor.target
    bodies = {
        "login": [{"username": team.reviewer.username, "password": "wrong"}],
        "password_change": [
            {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        ],
        "password_reset": [{"email": team.reviewer.email}],
        "password_reset_confirm": [{"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}],
        "dispute-detail": [
            {"action": "resolve", "rank_1": "b", "rank_2": "a", "rationale": TAKEN},
            {"action": "void", "reason": TAKEN},
        ],
    }
    return bodies.get(pattern.name, [{}])


def admin_body(call: Call, actor: Actor, form_page: str | None) -> list[dict]:
    """Admin POSTs: the bulk-delete action on a changelist, the confirmation on a delete page,
    and the page's own form, harvested as a superuser sees it, everywhere else."""
    name = call.pattern.name or ""
    model = admin_model_for(call.pattern)
    if name.endswith("_changelist") and model is not None:
        obj = target_object(actor.target, model, actor)
        selected = [str(obj.pk)] if obj is not None else []
        return [{"action": "delete_selected", "_selected_action": selected, "post": "yes"}]
    if name.endswith("_delete"):
        return [{"post": "yes"}]
    return [harvested_form(form_page, actor) if form_page else {}]


# --- one request, judged -----------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    location: str
    body: str
    changed: list[str]
    result_count: int | None


def rows_written() -> int:
    """A counter that grows with every row the connection inserts, updates or deletes in this
    transaction (sessions left out where the database can tell), so
    that the full fingerprint is taken only after a request that wrote something."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                "FROM pg_stat_xact_user_tables WHERE relname <> 'django_session'"
            )
            return int(cursor.fetchone()[0])
    connection.ensure_connection()
    return connection.connection.total_changes


def perform(
    actor: Actor, call: Call, method: str, body: dict | None, models, baseline,
    keep_context: bool = False,
) -> Outcome:  # fmt: skip
    """Make the request inside a savepoint, fingerprint what it left, and roll it back. The test
    client copies every template context it renders (dozens per admin page), which is most of
    the matrix's time; only the changelist oracle reads them, so others skip the copies."""
    client = actor.client(api=call.pattern.is_api)
    copies = nullcontext() if keep_context else mock.patch.object(
        test_client, "store_rendered_templates", lambda *args, **kwargs: None
    )  # fmt: skip
    with copies, transaction.atomic():
        written = rows_written()
        if method == "get":
            response = client.get(call.url)
        elif call.pattern.is_api:
            response = getattr(client, method)(
                call.url, data=json.dumps(body or {}), content_type="application/json"
            )
        elif method == "post":
            response = client.post(call.url, data=body or {})
        else:
            response = getattr(client, method)(call.url)
        try:
            changed = []
            if rows_written() != written:
                after = fingerprint(models)
                changed = sorted(label for label, d in after.items() if baseline[label] != d)
        except DatabaseError as error:  # the request left the transaction aborted
            changed = [f"(database unreadable after the request: {error})"]
        transaction.set_rollback(True)
    # Reading streaming content closes the response as the test client wraps it; closing a
    # response by hand here would fire request_finished and close the test's connection.
    content = b"".join(response.streaming_content) if response.streaming else response.content
    context = getattr(response, "context", None)
    result_count = None
    if context is not None:
        try:
            result_count = context["cl"].result_count
        except (KeyError, AttributeError):
            result_count = None
    return Outcome(
        response.status_code, response.get("Location", ""), content.decode(errors="replace"),
        changed, result_count,
    )  # fmt: skip


def entitled_to_write(actor: Actor, call: Call) -> bool:
    """A lead's own new rows: an admin add form, a new sprint or rubric over the API (its
    creator leads it), or a new version of a (shared) rubric."""
    name = call.pattern.name or ""
    is_lead = actor.user is not None and actor.user.is_staff
    own_rows = {"annotation_rubric_new_version", "api-sprints", "api-rubrics"}
    return is_lead and (name.endswith("_add") or name in own_rows)


def sent_values(call: Call, body: dict | None) -> list[str]:
    values = [str(v) for v in call.query.values()]
    for value in (body or {}).values():
        values += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return sorted((v.lower() for v in values if len(v) > 3), key=len, reverse=True)


def problems(
    actor: Actor, call: Call, method: str, outcome: Outcome, body: dict | None = None
) -> list[str]:
    """What is wrong with one answer, in words for the report (empty when nothing is)."""
    found = []
    where = f"{method.upper()} {call.url} as {actor.name} -> {outcome.status}"
    changed = outcome.changed
    if call.pattern.name in LOGIN_DOORS:
        changed = [label for label in changed if not label.startswith("axes.")]
    if changed and not entitled_to_write(actor, call):
        sent = json.dumps(body, default=str)[:120] if body else ""
        found.append(f"{where}: write stuck ({', '.join(changed)}) {sent}")
    if 200 <= outcome.status < 300:
        # What the caller sent may come back (a login form keeps the username): not a leak.
        answer = outcome.body.lower()
        for value in sent_values(call, body):
            answer = answer.replace(value, "")
        shown = sorted({m for m in actor.forbidden if m in answer})
        if shown:
            found.append(f"{where}: shows {', '.join(s[:16] for s in shown)}")
        if call.names_object and not shown:
            found.append(f"{where}: 2xx on the other team's object")
    return found
