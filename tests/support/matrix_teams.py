"""Two teams' worth of data for the permission matrix (tests/test_permission_matrix.py).

Every row a team owns carries the team's marker (``secret-a-`` or ``secret-b-``, any case) in
its names, prompts, responses, reasons and usernames, and each team's API token keys are
markers too, so that a response can be searched for data that is not the caller's. The rows
are made through the same fixtures and services the other tests use: judgments as
``submit_judgment`` stores them (tests/reviews/dispute_fixtures.py), disputes opened by the
review service, a dataset built by the export pipeline, a run and its registered model.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation.admin.leads import ensure_leads_group
from annotation.models import (
    Assignment,
    AuditEvent,
    Criterion,
    CriterionKind,
    Item,
    ItemFlag,
    Judgment,
    Response,
    Rubric,
    Sprint,
    SprintMember,
    SprintRole,
)
from annotation.services.audit import record_event
from feedback.models import (
    FeedbackEvent,
    FeedbackSample,
    FeedbackSource,
    ProductionPreference,
)
from feedback.services.ingest import ingest_events
from feedback.services.ingest_tokens import issue_token
from reviews.models import ConsensusLabel, Dispute
from reviews.services.disputes import review_sprint
from tests.annotation.labeling_fixtures import lease_item
from tests.exports.export_fixtures import export, labelled_item
from tests.reviews.dispute_fixtures import vote
from tests.support.builders import policy_version
from training.models import (
    ModelStage,
    ModelVersion,
    PolicyEvaluation,
    RegistryEvent,
    RunStatus,
    SelectionRun,
    TrainingRun,
)

User = get_user_model()


@dataclass
class Team:
    """One team: a sprint with its lead, reviewer and annotators, and one row of every kind
    the API and the admin show, keyed by model label (``annotation.item``) in ``objects``."""

    tag: str
    sprint: Sprint
    lead: Model
    reviewer: Model
    annotator: Model
    assignment: Assignment
    judgment: Judgment
    objects: dict[str, Model] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    ingest_key: str = ""

    @property
    def marker(self) -> str:
        return f"secret-{self.tag}-"

    def markers(self) -> list[str]:
        """What must never appear in a response to someone outside the team (lower case)."""
        return [self.marker, *(key.lower() for key in self.tokens)]

    def run_artifacts(self) -> Path:
        return Path(settings.DATA_DIR) / self.objects["training.trainingrun"].artifacts_dir


def _user(name: str, **extra) -> Model:
    user = User.objects.create_user(
        username=name, password="pw-" + name, email=f"{name}@example.com",
        first_name=name.upper(), **extra,
    )  # fmt: skip
    Token.objects.create(user=user)
    return user


def _rubric(tag: str) -> Rubric:
    # Rubrics are a library all leads share (matrix_urls.SHARED_MODELS), so they carry no marker.
    rubric = Rubric.objects.create(name=f"Rubric {tag}", guidelines="Prefer grounded answers.")
    Criterion.objects.create(
        rubric=rubric, name="preference", kind=CriterionKind.PREFERENCE, position=0,
        question="Which response is better?", config={"allow_tie": True, "strength_labels": [
            "slightly", "clearly", "much"]},
    )  # fmt: skip
    Criterion.objects.create(
        rubric=rubric, name="helpfulness", kind=CriterionKind.LIKERT, position=1,
        question="How helpful is each response?", config={"min": 1, "max": 5},
    )  # fmt: skip
    return rubric


def _item(sprint: Sprint, tag: str, n: int) -> Item:
    item = Item.objects.create(
        sprint=sprint,
        external_id=f"secret-{tag}-item-{n}",
        prompt=f"SECRET-{tag.upper()}-prompt {n}",
        metadata={"source": f"SECRET-{tag.upper()}-metadata"},
        content_sha256=f"{tag}{sprint.pk:07d}{n:056d}",
    )
    for position, key in enumerate("ab"):
        Response.objects.create(
            item=item, key=key, text=f"SECRET-{tag.upper()}-response {key}", position=position,
            model_name=f"secret-{tag}-model-{key}",  # the leaderboard must not show it outside
        )  # fmt: skip
    return item


def build_team(tag: str) -> Team:
    """Sprint ``secret-<tag>-sprint`` with a lead (staff, in the Leads group), a reviewer, three
    annotators, a disputed item, a flagged item, an item with a consensus label, a live lease
    of the annotator, a dataset version built by the export pipeline (its file on disk), a
    finished training run with artifacts on disk and its registered model version."""
    upper = tag.upper()
    sprint = Sprint.objects.create(
        name=f"SECRET-{upper}-sprint", slug=f"secret-{tag}-sprint", rubric=_rubric(tag),
        description=f"SECRET-{upper}-description", status="active", overlap_k=3,
    )  # fmt: skip
    lead = _user(f"secret-{tag}-lead", is_staff=True)
    lead.groups.add(ensure_leads_group())
    reviewer = _user(f"secret-{tag}-rev")
    annotators = [_user(f"secret-{tag}-{name}") for name in ("ann", "ann2", "ann3")]
    for user, role in [(lead, SprintRole.LEAD), (reviewer, SprintRole.REVIEWER)] + [
        (user, SprintRole.ANNOTATOR) for user in annotators
    ]:
        SprintMember.objects.create(
            sprint=sprint, user=user, role=role, pseudonym=f"SECRET-{upper}-{user.pk}"
        )

    split, fresh, flagged = (_item(sprint, tag, n) for n in range(3))
    rationale = {"rationale": f"SECRET-{upper}-rationale"}
    for user, ranking in zip(annotators, (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
        vote(split, user, ranking, strength=2, extra=rationale)
    ItemFlag.objects.create(
        sprint=sprint, item=flagged, annotator=annotators[1], reason=f"SECRET-{upper}-flag"
    )
    review_sprint(sprint)
    assignment = lease_item(fresh, annotators[0])
    judgment = Judgment.objects.filter(item=split, annotator=annotators[0]).get()
    record_event(lead, "sprint.noted", sprint, sprint=sprint, changes={"note": f"SECRET-{upper}"})

    labelled = labelled_item(
        sprint, 90, prompt=f"SECRET-{upper}-labelled prompt",
        texts={"a": f"SECRET-{upper}-chosen", "b": f"SECRET-{upper}-rejected"},
    )  # fmt: skip
    dataset = export(lead, sprint)
    run = TrainingRun.objects.create(
        dataset=dataset, model_name=f"secret-{tag}-reward", base_model=f"SECRET-{upper}-base",
        status=RunStatus.DONE, progress=1.0, created_by=lead, finished_at=timezone.now(),
        started_at=timezone.now() - timedelta(minutes=5),
        metrics={"note": f"SECRET-{upper}-metrics"},
    )  # fmt: skip
    run.artifacts_dir = f"training/runs/run-{run.pk}"
    run.save(update_fields=["artifacts_dir"])
    artifacts = Path(settings.DATA_DIR) / run.artifacts_dir
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "config.json").write_text(f'{{"note": "SECRET-{upper}-artifacts"}}')
    model = ModelVersion.objects.create(
        name=f"secret-{tag}-reward", version=1, run=run, metrics=run.metrics
    )
    model.sprints.set([sprint])
    selection = SelectionRun.objects.create(
        source=sprint, model=model, created_by=lead, status=RunStatus.FAILED,
        params={"size": 1, "random_share": 0.0, "seed": 0, "name": f"SECRET-{upper}-next",
                "slug": f"secret-{tag}-next"}, error=f"SECRET-{upper}-selection",
    )  # fmt: skip

    policies = _policies(tag, upper, dataset, lead, sprint)
    team = Team(tag, sprint, lead, reviewer, annotators[0], assignment, judgment)
    feedback_rows = _feedback(team, upper)
    for obj in _lockouts(reviewer, upper):
        team.objects[obj._meta.label_lower] = obj
    team.tokens = list(Token.objects.filter(user__in=[lead, reviewer, *annotators]).values_list(
        "key", flat=True))  # fmt: skip
    team.tokens.append(team.ingest_key)
    for obj in [
        sprint, sprint.rubric, fresh, assignment, judgment, reviewer,
        Dispute.objects.get(item=split), dataset, run, model, selection,
        AuditEvent.objects.filter(sprint=sprint).latest("pk"),
        ConsensusLabel.objects.get(item=labelled), *feedback_rows, *policies,
    ]:  # fmt: skip
        team.objects[obj._meta.label_lower] = obj
    return team


def _policies(tag: str, upper: str, dataset, lead, sprint) -> list[Model]:
    """Two policy versions of the team's dataset (v1 in production, v2 a candidate, the tiny
    causal LM as artifacts), a failed evaluation of v2 against v1, and the registry event of
    v1's promotion."""
    name = f"secret-{tag}-policy"
    production = policy_version(dataset, lead, name=name, stage=ModelStage.PRODUCTION)
    candidate = policy_version(dataset, lead, name=name)
    evaluation = PolicyEvaluation.objects.create(
        candidate=candidate, baseline=production, rubric=sprint.rubric, created_by=lead,
        sprint_name=f"SECRET-{upper}-evaluation", status=RunStatus.FAILED,
        prompts=[{"prompt": f"SECRET-{upper}-eval prompt", "context": []}],
        prompt_source={"file": f"secret-{tag}-prompts.jsonl"}, error=f"SECRET-{upper}-eval",
    )  # fmt: skip
    event = RegistryEvent.objects.create(
        registry="policy", event="promoted", name=name, version_id=production.pk,
        version=production.version, actor=lead, reason=f"SECRET-{upper}-reason",
    )  # fmt: skip
    return [candidate, evaluation, event]


def _feedback(team: Team, upper: str) -> list[Model]:
    """A feedback source led by the team's lead, its ingest token (the key kept in
    ``team.ingest_key``), and an event sent through ingest with a correction and a pick, so
    production preferences exist too."""
    tag = team.tag
    source = FeedbackSource.objects.create(
        slug=f"secret-{tag}-source", name=f"SECRET-{upper}-source",
        description=f"SECRET-{upper}-source description",
    )  # fmt: skip
    source.leads.add(team.lead)
    issued = issue_token(team.lead, f"SECRET-{upper}-token", [source])
    team.ingest_key = issued.key
    event = {
        "event_id": f"secret-{tag}-event", "occurred_at": timezone.now().isoformat(),
        "user_id": f"secret-{tag}-user", "trace_id": f"secret-{tag}-trace",
        "model": {"name": f"secret-{tag}-bot", "version": "v1"},
        "prompt": f"SECRET-{upper}-feedback prompt", "response": f"SECRET-{upper}-answer",
        "alternatives": [{"id": "alt", "text": f"SECRET-{upper}-alternative", "shown": True}],
        "signals": {"thumb": "down", "outcome": "corrected", "picked": "alt",
                    "correction": f"SECRET-{upper}-correction", "comment": f"SECRET-{upper}"},
        "metadata": {"stratum": f"secret-{tag}-stratum"},
    }  # fmt: skip
    assert ingest_events(source, [event]).accepted
    stored = FeedbackEvent.objects.get(source=source)
    sample = FeedbackSample.objects.create(
        sprint=team.sprint, created_by=team.lead, n=1, filters={"source": source.slug},
        status="done", progress=1.0, report={"note": f"SECRET-{upper}-sample"},
    )  # fmt: skip
    preference = ProductionPreference.objects.filter(event=stored)[0]
    return [source, issued.token, stored, preference, sample]


def _lockouts(user, upper: str) -> list[Model]:
    """The login throttle's rows about ``user`` (django-axes, when installed): a lock-out, a
    login and a failure, which only the user's own leads may see or clear."""
    if not apps.is_installed("axes"):
        return []
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    seen = {"username": user.username, "ip_address": "10.9.8.7", "http_accept": "*/*",
            "user_agent": f"SECRET-{upper}-agent", "path_info": "/accounts/login/"}  # fmt: skip
    return [
        AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=9),
        AccessLog.objects.create(**seen),
        AccessFailureLog.objects.create(**seen, locked_out=True),
    ]


@dataclass
class Removed:
    """Someone who was an annotator of the sprint and was removed: an old live lease, an old
    judgment, and their membership deleted; they still annotate another sprint."""

    user: Model
    assignment: Assignment
    judgment: Judgment


def remove_a_member(team: Team) -> Removed:
    user = _user("removed-member")
    SprintMember.objects.create(sprint=team.sprint, user=user, role=SprintRole.ANNOTATOR)
    # Still an annotator elsewhere, so that leaving sprint A leaves the account and token alive.
    elsewhere = Sprint.objects.create(name="Elsewhere", slug="elsewhere", rubric=team.sprint.rubric)
    SprintMember.objects.create(sprint=elsewhere, user=user, role=SprintRole.ANNOTATOR)
    judged, leased = (_item(team.sprint, team.tag, n) for n in (7, 8))
    judgment = vote(judged, user, ["a", "b"])
    assignment = lease_item(leased, user)
    SprintMember.objects.filter(sprint=team.sprint, user=user).delete()
    return Removed(user, assignment, judgment)
