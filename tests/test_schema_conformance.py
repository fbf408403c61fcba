"""The API against its own OpenAPI schema: schemathesis, every check, every operation.

A real server on loopback (pytest-django's ``live_server``) serves a seeded sprint: items,
judgments of two annotators who disagree (so consensus labels and disputes exist), a leased
item and a judgment of the lead's own, a built export, and a trained model version. The
schemathesis CLI then runs as a lead with a token, as the finding was made: its examples,
coverage, fuzzing and stateful phases with every check, bounded by a small number of cases
per operation. Any 5xx, undocumented status, body or header that breaks the schema, or
request the schema allows and the API refuses for no stated reason fails the test.

The seeded ids reach the generator as dictionaries with probability 0.5, so half the cases
hit real objects and half random ids (404s, which the schema declares).

Rejections the schema cannot express are allowed per operation for the "schema-valid request
accepted" check (``ALSO_REFUSED``): a password that is wrong, answers that do not fit the
rubric, a sprint the caller does not lead, a file that does not parse. Each is a 400 (or 409)
in the one error shape, which the other checks still hold to the schema.
"""

import json
import subprocess
import sys
from pathlib import Path

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from exports.models import ExportStatus
from reviews.models import Dispute
from reviews.services.disputes import review_sprint
from tests.annotation.labeling_fixtures import lease_item
from tests.exports.export_fixtures import export
from tests.reviews.dispute_fixtures import make_items, people, vote
from training.models import ModelStage, ModelVersion, RunStatus, SelectionRun, TrainingRun

# Every check schemathesis has but max_response_time: the suite asserts no timings.
CHECKS = [
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    "positive_data_acceptance", "missing_required_header", "unsupported_method",
    "allow_header_conformance", "use_after_free", "ensure_resource_availability",
    "ignored_auth", "object_level_authorization",
]  # fmt: skip
# Cases per operation and phase; the whole run stays within a few minutes on two cores.
MAX_EXAMPLES = 10
SEED = 20261204

# schemathesis' default answers to schema-violating data, to which a 413 is added (_config).
NEGATIVE_REJECTED = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429",
                     "5xx"]  # fmt: skip
REFUSED_FOR_STATE = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
ALSO_REFUSED = {
    "POST /api/v1/auth/token": "a username and password that do not match",
    "POST /api/v1/judgments": "answers that do not fit the rubric, or an assignment not leased",
    "POST /api/v1/assignments/{assignment_id}/skip": "an assignment that is not leased",
    "POST /api/v1/assignments/{assignment_id}/flag": "an assignment expired or skipped",
    "POST /api/v1/sprints/{sprint_id}/items/import": "a file that does not parse as items",
    "POST /api/v1/disputes/{dispute_id}/resolve": "a ranking of other responses than the item's",
    "POST /api/v1/exports": "a sprint the caller does not lead, or filters a kind does not take",
    "POST /api/v1/training-runs": "a dataset that cannot be trained, or a base model not allowed",
    "POST /api/v1/sprints/{sprint_id}/select-next": "no production model of the sprint",
    "POST /api/v1/sprints": "a taken slug, or an active sprint under a rubric that is not ready",
    "PATCH /api/v1/sprints/{sprint_id}": "a new rubric once the sprint has judgments",
    "POST /api/v1/sprints/{sprint_id}/members": "neither or both of user and username, or a "
    "person outside the caller's sprints",
    "POST /api/v1/rubrics": "criteria against the rubric rules (one preference criterion, "
    "unique names, each kind's config keys)",
    # The view ignores fields it does not know, but the body parser still refuses in them what
    # no field may hold (a number beyond a signed 64-bit integer, nesting over 64 levels).
    "POST /api/v1/disputes/{dispute_id}/void": "a number beyond 64 bits in an unknown field",
    "POST /api/v1/models/{model_id}/score": "a number beyond 64 bits in a message's extra key",
    "POST /api/v1/feedback/samples": "a time range whose since is not before its until",
    "POST /api/v1/policies/{policy_id}/promote": "an evaluation of another policy, or an "
    "override reason of blanks only",
    "POST /api/v1/policies/{policy_id}/rollback": "a reason of blanks only",
    "POST /api/v1/models/{model_id}/rollback": "a reason of blanks only",
}


def _schemathesis() -> Path:
    return Path(sys.executable).with_name("schemathesis")


def _seed(sprint, lead, make_user) -> dict[str, list[int]]:
    """A sprint with every kind of object the API serves, and the ids to aim at."""
    items = make_items(sprint, 8)
    annotators = people(sprint, make_user, ["a1", "a2", "a3"])
    for item in items[:5]:
        for user, ranking in zip(annotators, (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
            vote(item, user, ranking, strength=2, helpfulness={"a": 4, "b": 3})
    review_sprint(sprint)
    leased = lease_item(items[6], lead)
    judged = vote(items[7], lead, ["a", "b"], strength=1, helpfulness={"a": 3, "b": 3})
    dataset = export(lead, sprint)
    assert dataset.status == ExportStatus.DONE
    run = TrainingRun.objects.create(
        dataset=dataset,
        model_name="reward-demo",
        base_model="all-MiniLM-L6-v2",
        status=RunStatus.DONE,
        progress=1.0,
        created_by=lead,
        metrics={"eval_accuracy": 0.75},
    )
    model = ModelVersion.objects.create(
        name="reward-demo", version=1, run=run, stage=ModelStage.CANDIDATE, metrics=run.metrics
    )
    model.sprints.set([sprint])
    selection = SelectionRun.objects.create(
        source=sprint, model=model, created_by=lead, status=RunStatus.DONE, scored=2, total=2,
        params={"size": 1, "random_share": 0.0, "seed": 0, "name": "", "slug": "demo-next-2"},
        result={"sprint": sprint.pk, "slug": sprint.slug, "model": model.pk, "uncertain": [],
                "random": [], "gold_copied": 0},
    )  # fmt: skip
    disputes = list(Dispute.objects.filter(sprint=sprint).values_list("pk", flat=True))
    assert disputes, "the seeded disagreement opened no dispute"
    return {
        "sprint": [sprint.pk],
        "assignment": [leased.pk, judged.assignment_id],
        "dispute": disputes,
        "id": [judged.pk, dataset.pk],
        "dataset": [dataset.pk],
        "run": [run.pk],
        "rubric": [sprint.rubric_id],
        "user": [annotators[0].pk, annotators[1].pk],
        "model": [model.pk],
        "selection": [selection.pk],
    }


def _config(ids: dict[str, list[int]], token: str) -> str:
    """schemathesis.toml: the token, the seeded ids as dictionaries, the allowed refusals."""
    bindings = {
        "path.sprint_id": "sprint",
        "query.sprint": "sprint",
        "path.assignment_id": "assignment",
        "body.assignment": "assignment",
        "path.dispute_id": "dispute",
        "path.id": "id",
        "path.run_id": "run",
        "path.model_id": "model",
        "path.selection_id": "selection",
        "body.dataset": "dataset",
        "body.rubric": "rubric",
        "path.rubric_id": "rubric",
        "path.user_id": "user",
        "body.user": "user",
    }
    lines = ["[headers]", f'Authorization = "Token {token}"', ""]
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    # A schema-violating body too large to read at all (over DATA_UPLOAD_MAX_MEMORY_SIZE: the
    # fuzzer's overlong strings, in an endpoint that takes a list of prompts) is refused with a
    # 413 before any field is read: a refusal like the 4xx schemathesis expects by default.
    negative = [*NEGATIVE_REJECTED, "413"]
    lines += ["[checks.negative_data_rejection]", f"expected-statuses = {json.dumps(negative)}", ""]
    lines.append("[parameters]")
    for key, name in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
    lines.append("")
    for operation in ALSO_REFUSED:
        lines += [
            "[[operations]]",
            f'include-name = "{operation}"',
            f"checks.positive_data_acceptance.expected-statuses = {json.dumps(REFUSED_FOR_STATE)}",
            "",
        ]
    return "\n".join(lines)


def test_the_api_conforms_to_its_schema(
    transactional_db, live_server, sprint, lead, make_user, tmp_path
):
    # Starting a training run imports the trainer (torch, transformers) on its first call;
    # the live server runs in this process, so import it before the clock of any request.
    import training.services.trainer  # noqa: F401

    ids = _seed(sprint, lead, make_user)
    token = Token.objects.create(user=lead).key
    schema = APIClient().get(
        "/api/schema/", {"format": "json"}, HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert schema.status_code == 200, schema.content[:500]
    (tmp_path / "schema.json").write_bytes(schema.content)
    (tmp_path / "schemathesis.toml").write_text(_config(ids, token))
    report = tmp_path / "report.json"

    command = [
        str(_schemathesis()),
        "--config-file", str(tmp_path / "schemathesis.toml"),
        "run", str(tmp_path / "schema.json"),
        "--url", live_server.url,
        "--checks", ",".join(CHECKS),
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "60",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        # The API refuses NUL in any text (a 400 naming the field), which a schema cannot say.
        "--generation-allow-x00", "false",
        "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    finished = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=1200, check=False
    )
    output = finished.stdout + finished.stderr
    assert report.exists(), output[-20000:]
    cases = json.loads(report.read_text())["test_cases"]
    print(
        f"\nschemathesis: {cases['generated']} cases, {cases['with_failures']} with failures, "
        f"{cases['errored']} errored, on {len(ids['sprint'])} seeded sprint"
    )
    assert finished.returncode == 0, output[-20000:]
    assert cases["generated"] > 0 and cases["with_failures"] == cases["errored"] == 0
