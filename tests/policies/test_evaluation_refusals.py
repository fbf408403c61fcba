"""What an evaluation refuses, before anything is stored: every bad field is a 400 in the one
error shape naming it (sampling, gate, prompts, rubric, seed, baseline, reward model, dataset),
and nothing is stored (no evaluation, no job). Who may start and read one: only a lead of every
sprint of the candidate's (and the baseline's) dataset; a member who is not a lead gets 403, the
lead of another team 404 (and the service refuses them too, whoever calls it)."""

import pytest

from annotation.models import (
    BackgroundJob,
    Criterion,
    CriterionKind,
    Rubric,
    Sprint,
    SprintMember,
    SprintRole,
)
from annotation.services.errors import ConcordError
from tests.policies.evaluation_fixtures import EVALUATIONS
from tests.support.builders import export_of, policy_version, training_run
from training.models import ModelStage, ModelVersion, PolicyEvaluation
from training.services.evaluations import execute_evaluation, start_evaluation

pytestmark = pytest.mark.django_db

GOOD = [{"prompt": "what about refunds ?"}, {"prompt": "what about coupons ?"}]


def body(candidate, rubric, /, **changes):
    values = {"candidate": candidate.pk, "rubric": rubric.pk, "prompts": GOOD, **changes}
    return {key: value for key, value in values.items() if value is not None}


def assert_refused(answer, field, status=400):
    assert answer.status_code == status, answer.content
    payload = answer.json()
    assert set(payload) == {"detail", "errors"}
    assert field in [problem.get("field") for problem in payload["errors"]], payload
    assert not PolicyEvaluation.objects.exists() and not BackgroundJob.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sampling": {"temperature": -1}}, "sampling.temperature"),
        ({"sampling": {"top_p": 0}}, "sampling.top_p"),
        ({"sampling": {"max_new_tokens": 0}}, "sampling.max_new_tokens"),
        ({"sampling": {"beams": 2}}, "sampling.beams"),
        ({"gate": {"lower_bound_above": 1}}, "gate.lower_bound_above"),
        ({"gate": {"min_comparisons": 0}}, "gate.min_comparisons"),
        # Looser than the house rule (30 comparisons, lower bound above 0.5): refused.
        ({"gate": {"min_comparisons": 29}}, "gate.min_comparisons"),
        # More than CONCORD_EVALUATION_MAX_PROMPTS (500) prompts could give: never passable.
        ({"gate": {"min_comparisons": 501}}, "gate.min_comparisons"),
        ({"gate": {"lower_bound_above": 0.4}}, "gate.lower_bound_above"),
        ({"gate": {"margin": 1}}, "gate.margin"),
        ({"seed": -1}, "seed"),
        ({"temperature": 0.5}, "temperature"),
        ({"rubric": 999_999}, "rubric"),
        ({"prompts": None}, "dataset"),
        ({"prompts": []}, "prompts"),
        ({"prompts": [{"prompt": ""}]}, "prompts[0].prompt"),
        ({"prompts": [{"prompt": "q", "context": [{"text": ""}]}]}, "prompts[0].context[0].text"),
        ({"prompts": [{"prompt": "q", "answer": "a"}]}, "prompts[0].answer"),
        ({"name": "x" * 201}, "name"),
    ],
)
def test_a_bad_field_is_a_400_naming_it_and_nothing_is_stored(
    grounded, policies, lead, rubric, api_client_for, changes, field
):
    candidate, _baseline = policies
    answer = api_client_for(lead).post(
        EVALUATIONS, body(candidate, rubric, **changes), format="json"
    )
    assert_refused(answer, field)


def test_refusals_about_the_request_as_a_whole(
    grounded, policies, lead, rubric, api_client_for, settings
):
    _sprint, dataset, _items = grounded
    candidate, baseline = policies
    client = api_client_for(lead)

    def post(**changes):
        return client.post(EVALUATIONS, body(candidate, rubric, **changes), format="json")

    assert_refused(post(dataset=dataset.pk), "prompts")  # both a dataset and prompts
    assert_refused(post(baseline=candidate.pk), "baseline")
    settings.CONCORD_EVALUATION_MAX_PROMPTS = 1
    assert_refused(post(), "prompts")
    settings.CONCORD_EVALUATION_MAX_PROMPTS = 500

    unready = Rubric.objects.create(name="No preference yet")
    Criterion.objects.create(rubric=unready, name="tone", kind=CriterionKind.LIKERT,
                             question="Tone?", config={"min": 1, "max": 5})  # fmt: skip
    assert_refused(post(rubric=unready.pk), "rubric")

    archived = ModelVersion.objects.create(
        name="support-rm", version=1, run=training_run(dataset, lead), stage=ModelStage.ARCHIVED
    )
    assert_refused(post(reward_model=archived.pk), "reward_model")

    csv = export_of(grounded[0], lead, format="csv")
    assert_refused(post(prompts=None, dataset=csv.pk), "dataset")

    baseline.stage = ModelStage.ARCHIVED
    baseline.save()
    assert_refused(post(), "baseline")  # no production version to compare with


def test_only_leads_of_the_candidates_data_start_and_read_evaluations(
    grounded, policies, lead, annotator, rubric, api_client_for, make_user, other_sprint
):
    from annotation.models import SprintMember, SprintRole

    candidate, baseline = policies
    own = api_client_for(lead).post(EVALUATIONS, body(candidate, rubric), format="json")
    assert own.status_code == 202
    evaluation_id = own.json()["id"]
    stored = PolicyEvaluation.objects.count(), BackgroundJob.objects.count()

    member = api_client_for(annotator)
    assert member.post(EVALUATIONS, body(candidate, rubric), format="json").status_code == 403
    assert member.get(f"{EVALUATIONS}/{evaluation_id}").status_code == 403
    assert member.get(EVALUATIONS).json()["results"] == []

    stranger = make_user("lead-b", is_staff=True)
    SprintMember.objects.create(sprint=other_sprint, user=stranger, role=SprintRole.LEAD)
    other = api_client_for(stranger)
    assert_status = other.post(EVALUATIONS, body(candidate, rubric), format="json")
    assert assert_status.status_code == 404
    assert other.get(f"{EVALUATIONS}/{evaluation_id}").status_code == 404
    assert other.get(EVALUATIONS).json()["results"] == []
    # Their own policy against ours as the baseline: ours does not exist for them.
    theirs = policy_version(export_of(other_sprint, stranger), stranger, name="other-policy")
    crossed = other.post(EVALUATIONS, body(theirs, rubric, baseline=baseline.pk), format="json")
    assert crossed.status_code == 404
    assert [e.get("field") for e in crossed.json()["errors"]] == ["baseline"], "names the id"
    assert [e.get("field") for e in assert_status.json()["errors"]] == ["candidate"]
    assert (PolicyEvaluation.objects.count(), BackgroundJob.objects.count()) == stored

    # The service refuses them too, whoever calls it: 403 for a member of the sprint, 404 for
    # another team (their own candidate against our baseline: ours is not said to exist).
    for actor, field, status in ((annotator, "candidate", 403), (stranger, "baseline", 404)):
        with pytest.raises(ConcordError) as refused:
            start_evaluation(theirs if actor is stranger else candidate, actor=actor,
                             rubric=rubric, prompts=GOOD, baseline=baseline)  # fmt: skip
        assert refused.value.status == status and refused.value.problems[0]["field"] == field


def test_a_policy_whose_artifacts_are_gone_fails_with_the_reason(
    grounded, policies, lead, rubric, api_client_for
):
    from annotation.services import artifact_store

    candidate, _baseline = policies
    answer = api_client_for(lead).post(EVALUATIONS, body(candidate, rubric), format="json")
    run = candidate.run
    artifact_store.local_path(f"{run.artifacts_dir}/{artifact_store.MANIFEST_NAME}").unlink()
    evaluation = execute_evaluation(answer.json()["id"])
    assert evaluation.status == "failed" and evaluation.sprint is None
    assert "missing" in evaluation.error and evaluation.finished_at is not None


def test_a_starter_who_lost_the_lead_role_before_the_worker_ran_it_gets_no_sprint(
    grounded, policies, lead, rubric, api_client_for
):
    """Found in review: the worker generated and made the sprint (the starter its lead, the
    responses of both policies in it) for a starter who no longer led the policies' data."""
    sprint, _dataset, _items = grounded
    candidate, _baseline = policies
    answer = api_client_for(lead).post(EVALUATIONS, body(candidate, rubric), format="json")
    assert answer.status_code == 202, answer.content
    SprintMember.objects.filter(sprint=sprint, user=lead).update(role=SprintRole.REVIEWER)
    evaluation = execute_evaluation(answer.json()["id"])
    assert evaluation.status == "failed" and evaluation.sprint is None
    assert evaluation.error.startswith("candidate: Evaluating needs the lead role")
    assert not Sprint.objects.filter(slug__startswith="blind-eval-").exists()


def test_two_policies_that_answer_alike_make_no_sprint(grounded, lead, rubric, api_client_for):
    _sprint, dataset, _items = grounded
    # Both are the same tiny model: under one seed they give the same answer to every prompt.
    policy_version(dataset, lead, stage=ModelStage.PRODUCTION)
    twin = policy_version(dataset, lead)
    answer = api_client_for(lead).post(EVALUATIONS, body(twin, rubric), format="json")
    evaluation = execute_evaluation(answer.json()["id"])
    assert evaluation.status == "failed" and evaluation.sprint is None
    assert evaluation.error == "Both policies gave the same response to every prompt."


def test_an_empty_answer_is_shown_and_an_identical_pair_left_out():
    from training.services.evaluation_sprint import EMPTY_RESPONSE, evaluation_pairs

    prompts = [{"prompt": f"q{n}", "context": []} for n in range(3)]
    pairs, identical = evaluation_pairs(prompts, ["", "same", "x\x00y"], ["b", "same", "z"], seed=0)
    assert identical == 1 and [pair.index for pair in pairs] == [0, 2]
    assert pairs[0].candidate == EMPTY_RESPONSE and pairs[1].candidate == "xy"
