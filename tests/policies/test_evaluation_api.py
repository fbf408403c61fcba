"""A whole evaluation through the REST API on the CPU with the tiny causal LM: started by the
lead of the candidate's dataset, queued, executed as the gpu worker would
(``execute_evaluation``, what the task calls), done with a blind sprint of two responses per
compared prompt in seeded shuffled order, both policies' labels on the responses, the recorded
sampling, seed and generation cost, and the gate's verdict; the same settings give the same
responses again."""

import random

import pytest

from annotation.models import AuditEvent, Item, SprintRole
from annotation.models import Response as StoredResponse
from tests.policies.evaluation_fixtures import EVALUATIONS, TEST_ITEMS
from training.models import ModelStage
from training.services.evaluations import execute_evaluation

pytestmark = pytest.mark.django_db

SAMPLING = {"max_new_tokens": 10, "temperature": 1.0}
SEED = 3


def start(client, candidate, rubric, **body):
    values = {"candidate": candidate.pk, "rubric": rubric.pk, "sampling": SAMPLING, "seed": SEED}
    return client.post(EVALUATIONS, {**values, **body}, format="json")


def responses_by_item(sprint_id):
    items = Item.objects.filter(sprint_id=sprint_id).order_by("external_id")
    return {item.external_id: list(item.responses.order_by("position")) for item in items}


def test_an_evaluation_goes_from_queued_to_done_and_makes_a_blind_sprint(
    grounded, policies, lead, annotator, reviewer, rubric, api_client_for
):
    _sprint, dataset, items = grounded
    candidate, baseline = policies
    client = api_client_for(lead)
    answer = start(client, candidate, rubric, dataset=dataset.pk)
    assert answer.status_code == 202, answer.json()
    evaluation_id = answer.json()["id"]
    assert answer.json()["status"] == "queued"
    assert answer.json()["status_url"].endswith(f"{EVALUATIONS}/{evaluation_id}")
    queued = client.get(f"{EVALUATIONS}/{evaluation_id}").json()
    assert queued["status"] == "queued" and queued["sprint"] is None and queued["gate"] is None
    assert queued["baseline"] == {"id": baseline.pk, "label": "support-policy@v1",
                                  "stage": "production"}  # fmt: skip
    assert queued["sampling"] == {**SAMPLING, "top_p": 1.0, "batch_size": 8}
    assert queued["seed"] == SEED and queued["prompt_count"] == TEST_ITEMS
    assert queued["prompt_source"]["dataset"] == dataset.pk
    assert queued["prompt_source"]["split"] == "test"

    assert execute_evaluation(evaluation_id).status == "done"
    done = client.get(f"{EVALUATIONS}/{evaluation_id}").json()
    assert done["status"] == "done" and done["progress"] == 1.0 and done["error"] == ""
    for side in ("candidate", "baseline"):
        stats = done["generation"][side]
        assert stats["prompts"] == TEST_ITEMS and stats["device"] == "cpu"
        assert stats["new_tokens"] > 0 and stats["tokens_per_s"] > 0
    assert done["automatic"] is None, "no reward model of these sprints: no first look"
    assert done["gate"]["allowed"] is False and done["gate"]["human"]["n"] == 0
    assert done["gate_rule"] == {"min_comparisons": 30, "lower_bound_above": 0.5}

    from annotation.models import Sprint

    made = Sprint.objects.get(pk=done["sprint"])
    assert made.slug == f"blind-eval-{evaluation_id}"
    assert made.name == f"Blind evaluation {evaluation_id}", "annotators see it: no policy named"
    assert (made.status, made.rubric_id, made.overlap_k) == ("active", rubric.pk, 3)
    roles = dict(made.memberships.values_list("user__username", "role"))
    assert roles == {"lead": SprintRole.LEAD, "ann1": SprintRole.ANNOTATOR,
                     "rev1": SprintRole.REVIEWER}  # fmt: skip
    added = AuditEvent.objects.filter(action="member.added", sprint=made)
    assert sorted(event.changes["role"] for event in added) == sorted(roles.values())

    compared = done["generation"]["compared"]
    assert compared + done["generation"]["identical"] == TEST_ITEMS and compared >= 3
    stored = responses_by_item(made.pk)
    assert len(stored) == compared
    labels = {"support-policy@v2", "support-policy@v1"}
    order = random.Random(SEED)
    firsts = []
    test_items = items[-TEST_ITEMS:]
    for index, source in enumerate(test_items):
        candidate_first = order.random() < 0.5
        key = f"eval-{evaluation_id}-{index}"
        if key not in stored:
            continue
        a, b = stored[key]
        assert [a.key, b.key] == ["a", "b"]
        assert {f"{r.model_name}@{r.model_version}" for r in (a, b)} == labels
        assert (a.model_version == "v2") is candidate_first
        firsts.append(candidate_first)
        item = Item.objects.get(sprint=made, external_id=key)
        assert (item.prompt, item.context) == (source.prompt, source.context)
        assert item.metadata == {"evaluation": evaluation_id}
    assert len(set(firsts)) == 2, "the seed shows the candidate first in some items only"


def test_the_same_settings_give_the_same_responses_again(
    grounded, policies, lead, rubric, api_client_for
):
    _sprint, dataset, _items = grounded
    candidate, _baseline = policies
    client = api_client_for(lead)
    texts = []
    for _ in range(2):
        evaluation_id = start(client, candidate, rubric, dataset=dataset.pk).json()["id"]
        sprint_id = execute_evaluation(evaluation_id).sprint_id
        texts.append(
            sorted(
                StoredResponse.objects.filter(item__sprint_id=sprint_id).values_list(
                    "item__external_id", "model_version", "text"
                )
            )
        )
    strip = [[(key.rsplit("-", 1)[1], version, text) for key, version, text in t] for t in texts]
    assert strip[0] == strip[1]


def test_given_prompts_against_a_named_baseline(
    grounded, policies, lead, rubric, api_client_for, settings
):
    settings.CONCORD_GATE_MIN_COMPARISONS = 4  # the house floor: a lead's rule may be stricter
    sprint, _dataset, items = grounded
    candidate, baseline = policies
    baseline.stage = ModelStage.CANDIDATE
    baseline.save()
    prompts = [{"prompt": item.prompt, "context": item.context} for item in items[:3]]
    client = api_client_for(lead)
    answer = start(client, candidate, rubric, prompts=prompts, baseline=baseline.pk,
                   name="Support v2 against v1", gate={"min_comparisons": 5})  # fmt: skip
    assert answer.status_code == 202, answer.json()
    assert "3 prompt(s) give at most 3 human comparison(s)" in answer.json()["shortfall"]
    evaluation = execute_evaluation(answer.json()["id"])
    assert evaluation.status == "done", evaluation.error
    assert evaluation.prompt_source == {"given": 3} and evaluation.prompts == prompts
    assert evaluation.sprint.name == "Support v2 against v1"
    assert evaluation.gate == {"min_comparisons": 5, "lower_bound_above": 0.5}
    started, done = (
        AuditEvent.objects.get(action=f"policy_evaluation.{what}", actor=lead)
        for what in ("started", "done")
    )
    assert started.sprint == sprint and started.changes["prompts"] == 3
    assert done.sprint == evaluation.sprint and done.changes["sprint"] == evaluation.sprint_id
    listed = client.get(EVALUATIONS, {"candidate": candidate.pk}).json()["results"]
    assert [row["id"] for row in listed] == [evaluation.pk]
    assert client.get(EVALUATIONS, {"candidate": baseline.pk}).json()["results"] == []


@pytest.mark.parametrize("needed, short", [(3, False), (4, True)])
def test_a_lead_is_told_at_the_start_when_the_prompts_cannot_meet_the_rule(
    grounded, policies, lead, rubric, api_client_for, settings, needed, short
):
    """Each prompt gives at most one comparison: fewer prompts than the rule's
    ``min_comparisons`` can never pass the gate, and the lead learns it before generating."""
    settings.CONCORD_GATE_MIN_COMPARISONS = 2
    _sprint, _dataset, items = grounded
    candidate, _baseline = policies
    prompts = [{"prompt": item.prompt} for item in items[:3]]
    client = api_client_for(lead)
    answer = start(client, candidate, rubric, prompts=prompts, gate={"min_comparisons": needed})
    assert answer.status_code == 202, answer.json()
    read = client.get(f"{EVALUATIONS}/{answer.json()['id']}").json()
    if short:
        said = answer.json()["shortfall"]
        assert said == read["shortfall"]
        assert "the gate's rule needs at least 4" in said and "written override" in said
        client.post(f"{EVALUATIONS}/{answer.json()['id']}/cancel")
        cancelled = client.get(f"{EVALUATIONS}/{answer.json()['id']}").json()
        assert cancelled["shortfall"] is None, "nothing will be promoted from it either way"
    else:
        assert "shortfall" not in answer.json() and read["shortfall"] is None
