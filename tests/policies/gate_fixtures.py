"""Rows the gate, promotion and rollback tests stand on: a done evaluation whose sprint holds
consensus labels of candidate against baseline (as the evaluation sprint names its models:
``model_name`` the policy's name, ``model_version`` ``v<N>``), reward-model versions whose
artifacts are in the store, and removing a version's artifacts."""

from annotation.models import Sprint, SprintMember, SprintRole
from annotation.services import artifact_store
from tests.reviews.leaderboard_fixtures import label, model_item
from tests.support.builders import training_run
from training.models import ModelVersion, PolicyEvaluation, PolicyVersion, RunStatus
from training.services.runs import run_output_dir

AUTOMATIC = {"reward_model": None, "label": "support-rm v1", "win_rate": 0.7, "ci": [0.55, 0.83],
             "n": 40, "wins": 27, "ties": 2, "losses": 11}  # fmt: skip


def evaluated(
    candidate: PolicyVersion,
    baseline: PolicyVersion,
    lead,
    *,
    wins: int,
    losses: int = 0,
    ties: int = 0,
    gate: dict | None = None,
    status: str = RunStatus.DONE,
) -> PolicyEvaluation:
    """A done evaluation of ``candidate`` against ``baseline`` whose sprint (led by ``lead``)
    holds one item per comparison: ``wins`` the candidate won, ``losses``, ``ties``. The
    candidate's response is ``a`` on even items and ``b`` on odd ones, as a shuffle puts it."""
    number = PolicyEvaluation.objects.count() + 1
    sprint = Sprint.objects.create(
        name=f"Eval {candidate.label} {number}",
        slug=f"eval-{candidate.name}-v{candidate.version}-{number}",
        rubric=candidate.run.dataset.sprints.first().rubric,
        status="active",
    )
    SprintMember.objects.create(sprint=sprint, user=lead, role=SprintRole.LEAD)
    outcomes = ["win"] * wins + ["loss"] * losses + ["tie"] * ties
    for index, outcome in enumerate(outcomes):
        ours = (candidate.name, f"v{candidate.version}")
        theirs = (baseline.name, f"v{baseline.version}")
        keys = {"a": ours, "b": theirs} if index % 2 == 0 else {"a": theirs, "b": ours}
        item = model_item(sprint, f"eval-{number}-{index}", keys)
        ours_key = "a" if index % 2 == 0 else "b"
        other_key = "b" if ours_key == "a" else "a"
        ranking = {"win": [ours_key, other_key], "loss": [other_key, ours_key]}.get(outcome)
        label(item, ranking)
    return PolicyEvaluation.objects.create(
        candidate=candidate,
        baseline=baseline,
        rubric=sprint.rubric,
        sprint=sprint,
        sprint_name=sprint.name,
        prompts=[{"prompt": f"q{n}", "context": []} for n in range(len(outcomes))],
        prompt_source={"file": "prompts.jsonl"},
        seed=7,
        gate=gate or {},
        status=status,
        progress=1.0,
        automatic=AUTOMATIC,
        created_by=lead,
    )


def candidate_and_production(dataset, lead) -> tuple[PolicyVersion, PolicyVersion]:
    """``support-policy`` v1 promoted by ``lead`` (the first production version, no
    evaluation needed) and v2, a candidate, both of ``dataset``."""
    from tests.support.builders import policy_version
    from training.services.policy_gate import promote_policy

    production = policy_version(dataset, lead)
    promote_policy(production, actor=lead)
    return policy_version(dataset, lead), production


def reward_version(dataset, by, *, version: int, stage: str = "candidate") -> ModelVersion:
    """A registered reward model ``support-rm`` v``version`` with a small artifact folder
    published to the store (a manifest and one file)."""
    run = training_run(dataset, by)
    folder, relative = run_output_dir(run.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    sha256 = artifact_store.publish_directory(folder, relative)
    run.artifacts_dir, run.artifacts_sha256 = relative, sha256
    run.save(update_fields=["artifacts_dir", "artifacts_sha256"])
    model = ModelVersion.objects.create(
        name="support-rm", version=version, run=run, stage=stage, metrics={}
    )
    model.sprints.set(dataset.sprints.all())
    return model


def remove_artifacts(version) -> None:
    """Delete ``version``'s manifest from the (local) artifact store, as an operator's cleanup
    would."""
    artifact_store.local_path(
        f"{version.run.artifacts_dir}/{artifact_store.MANIFEST_NAME}"
    ).unlink()
