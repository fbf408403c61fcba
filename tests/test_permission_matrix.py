"""The permission matrix: every URL pattern x every actor x GET and each write method.

Two teams (sprints A and B, each with a lead, a reviewer, annotators, judgments, a dispute, a
flag, consensus, a dataset version, a training run and a model version) and eight actors:
anonymous, an annotator, a reviewer and the lead of sprint A, the lead of sprint B, a user in no
sprint, a removed member (an annotator of A whose membership was deleted), and a product backend
holding team A's feedback ingest key (which may ingest for A's source and read nothing). Each
actor calls every pattern the resolver knows (the admin's included) with the *other* team's ids (the
removed member and the stranger with A's, whose they no longer are or never were), and the test
fails on any 2xx that shows data that is not theirs, any 2xx on the other team's object, any
admin filter that answers differently for a true and a false guess of a user's token or
password hash, any write that sticks, and any 5xx. See tests/support/matrix.py for the rules.

Run it with ``-s`` to see the matrix's size and every finding.
"""

import logging
import os
import re

import pytest

from tests.support.matrix import (
    Actor,
    Outcome,
    admin_body,
    api_body,
    fingerprint,
    fingerprinted_models,
    page_body,
    perform,
    problems,
)
from tests.support.matrix_teams import _user, build_team, remove_a_member
from tests.support.matrix_urls import (
    Call,
    Unfillable,
    admin_model_for,
    fill,
    query_variants,
    secret_lookups,
    url_patterns,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    a, b = build_team("a"), build_team("b")
    return a, b, remove_a_member(a)


def actors(a, b, removed) -> list[Actor]:
    both = a.markers() + b.markers()
    cast = [
        Actor("anonymous", None, None, b, both),
        Actor("annotator-A", a.annotator, a, b, b.markers()),
        Actor("reviewer-A", a.reviewer, a, b, b.markers()),
        Actor("lead-A", a.lead, a, b, b.markers()),
        Actor("lead-B", b.lead, b, a, a.markers()),
        Actor("no-member", _user("outsider"), None, a, both),
        Actor(
            "removed-member",
            removed.user,
            None,
            a,
            both,
            overrides={
                "annotation.assignment": removed.assignment,
                "annotation.judgment": removed.judgment,
            },
        ),
        # A product's backend with team A's ingest key: it may ingest for A's source only.
        Actor("ingest-A", None, None, b, both, token=a.ingest_key),
    ]
    for actor in cast:
        actor.login()
    return cast


def refused_at_the_door(outcome: Outcome) -> bool:
    """Sent to a login page, or a 401: the caller is refused before any query is read (a 403
    may depend on the query: the admin's autocomplete asks about a different model each time)."""
    return outcome.status == 401 or (outcome.status == 302 and "login" in outcome.location)


@pytest.fixture(autouse=True)
def quiet_logs():
    """Thousands of refusals log a warning each; the report is the test's own output."""
    logging.disable(logging.ERROR)
    yield
    logging.disable(logging.NOTSET)


class Matrix:
    """Runs the cells and keeps the tally."""

    def __init__(self, superuser: Actor) -> None:
        self.models = fingerprinted_models()
        self.baseline = fingerprint(self.models)
        self.superuser = superuser
        self.forms: dict[str, str] = {}
        self.cells: set[tuple[str, str, str]] = set()
        self.requests = 0
        self.leaks: list[str] = []
        self.errors: list[str] = []

    def request(self, actor: Actor, call: Call, method: str, body=None, context=False) -> Outcome:
        outcome = perform(actor, call, method, body, self.models, self.baseline, context)
        self.requests += 1
        self.cells.add((call.pattern.template, actor.name, method))
        self.leaks += problems(actor, call, method, outcome, body)
        if outcome.status >= 500:
            self.errors.append(f"{method.upper()} {call.url} as {actor.name} -> {outcome.status}")
        return outcome

    def form_page(self, call: Call) -> str | None:
        """The page at ``call`` as a superuser sees it, for its form."""
        if call.url not in self.forms:
            outcome = perform(self.superuser, call, "get", None, self.models, self.baseline)
            self.forms[call.url] = outcome.body if outcome.status == 200 else ""
        return self.forms[call.url] or None

    def bodies(self, call: Call, actor: Actor, method: str) -> list[dict]:
        if call.pattern.is_api:
            return api_body(call.pattern, actor)
        if call.pattern.is_admin:
            page = self.form_page(call) if method == "post" else None
            return admin_body(call, actor, page)
        return page_body(call.pattern, actor)

    def cell(self, actor: Actor, call: Call) -> None:
        for method in call.pattern.methods():
            if method == "get":
                for query in query_variants(call, actor):
                    outcome = self.request(
                        actor, Call(call.pattern, call.path, call.names_object, query), "get"
                    )
                    if refused_at_the_door(outcome):
                        break  # the same door refuses the same caller whatever the query
                continue
            for body in self.bodies(call, actor, method):
                self.request(actor, call, method, body)

    def oracle(self, actor: Actor, call: Call, target_user) -> None:
        """A changelist filter on a secret must not answer differently for a true guess."""
        model = admin_model_for(call.pattern)
        for true, false in secret_lookups(model, target_user):
            guesses = [Call(call.pattern, call.path, False, query) for query in (true, false)]
            right, wrong = (self.request(actor, g, "get", None, True) for g in guesses)
            if not (200 <= right.status < 300 and 200 <= wrong.status < 300):
                continue
            if right.result_count != wrong.result_count:
                self.leaks.append(
                    f"GET {guesses[0].url} as {actor.name} -> "
                    f"{right.status}: answers {right.result_count} for a true guess of "
                    f"{target_user.username}'s secret, {wrong.result_count} for a false one"
                )


def test_no_actor_sees_or_changes_what_is_not_theirs(teams):
    a, b, removed = teams
    cast = actors(a, b, removed)
    root = _user("root", is_staff=True, is_superuser=True)
    superuser = Actor("superuser", root, None, b, [])
    superuser.login()
    matrix = Matrix(superuser)
    patterns = url_patterns()
    only = os.environ.get("MATRIX_ONLY")  # a regex over templates, to try one door while coding
    if only:
        patterns = [p for p in patterns if re.search(only, p.template)]
    calls, unfillable = [], []
    for pattern in patterns:
        try:
            calls += [(actor, fill(pattern, actor.target, actor)) for actor in cast]
        except Unfillable as missing:
            unfillable.append(str(missing))
    assert not unfillable, "patterns the matrix cannot fill:\n" + "\n".join(unfillable)

    for actor, call in calls:
        superuser.target = actor.target
        matrix.cell(actor, call)
        if (
            (call.pattern.name or "").endswith("_changelist")
            and actor.user is not None
            and (actor.user.is_staff)
        ):
            matrix.oracle(actor, call, root)

    methods = len({(template, method) for template, _, method in matrix.cells})
    print(
        f"\npermission matrix: {len(patterns)} URL patterns x {len(cast)} actors, "
        f"{methods} pattern-methods, {len(matrix.cells)} cells, {matrix.requests} requests; "
        f"leaks: {len(matrix.leaks)}; server errors: {len(matrix.errors)}"
    )
    for line in matrix.leaks + matrix.errors:
        print("  " + line)
    assert matrix.leaks == [], f"{len(matrix.leaks)} leaks:\n" + "\n".join(matrix.leaks)
    assert matrix.errors == [], "server errors:\n" + "\n".join(matrix.errors)
