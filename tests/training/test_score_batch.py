"""Batch scoring (``{"items": [...]}``) answers what single calls answer, within a documented
limit, with bad bodies refused in the one error shape naming the field; a candidate scores for
evaluation by the leads of its sprints (and nobody else), never for serving; an archived version
never scores; and active selection scores through the same function as the endpoint."""

import pytest

from annotation.models import Item, Response, SprintMember, SprintRole
from training.models import ModelStage
from training.services.scoring import clear_scorer_cache, score_items
from training.services.selection import score_margins

pytestmark = pytest.mark.django_db

CONTEXT = [{"id": "kb-1", "title": "Capitals", "text": "Rome is the capital of Italy."}]
ITEMS = [
    {"prompt": "What is the capital of Italy?", "context": CONTEXT,
     "responses": ["Rome is the capital of Italy.", "Italy. of capital the is emoR", "Rome."]},
    {"prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Name the largest planet."}],
     "responses": ["Jupiter is the largest planet.", "planet largest the Jupiter is"]},
    {"prompt": "Who wrote Hamlet?", "responses": ["William Shakespeare wrote Hamlet."]},
]  # fmt: skip


@pytest.fixture(autouse=True)
def empty_cache():
    clear_scorer_cache()
    yield
    clear_scorer_cache()


def url(model) -> str:
    return f"/api/v1/models/{model.pk}/score"


@pytest.fixture
def context_model(trained_model_version):
    """The session's production model, as if trained on rows with the documents in the prompt
    (so an item's context changes its scores)."""
    trained_model_version.rendering = {"form": "standard", "context": "prompt"}
    trained_model_version.save(update_fields=["rendering"])
    return trained_model_version


def test_a_batch_scores_as_single_calls_do(lead, context_model, api_client_for):
    client = api_client_for(lead)
    answer = client.post(url(context_model), {"items": ITEMS}, format="json")
    assert answer.status_code == 200, answer.json()
    results = answer.json()["results"]
    assert [len(result["scores"]) for result in results] == [3, 2, 1]
    for item, result in zip(ITEMS, results, strict=True):
        single = client.post(url(context_model), item, format="json")
        assert single.status_code == 200, single.json()
        assert result["scores"] == pytest.approx(single.json()["scores"], abs=1e-5)
    # The context is rendered into the prompt: without it, the first item scores otherwise.
    bare = {key: value for key, value in ITEMS[0].items() if key != "context"}
    without = client.post(url(context_model), bare, format="json").json()["scores"]
    assert max(abs(a - b) for a, b in zip(without, results[0]["scores"], strict=True)) > 1e-4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [ITEMS[0]] * 3}, "items"),
        ({"items": []}, "items"),
        ({"items": ITEMS[:1], "prompt": "q", "responses": ["a"]}, "items"),
        ({"items": [ITEMS[0], {"prompt": "q", "responses": []}]}, "items[1].responses"),
        ({"items": [ITEMS[0], {"prompt": "q", "responses": [3]}]}, "items[1].responses[0]"),
        ({"items": [{"prompt": "q", "responses": ["a"], "extra": 1}]}, "items[0].extra"),
        ({"items": [{"prompt": "q", "context": "docs", "responses": ["a"]}]}, "items[0].context"),
        ({"prompt": "q", "context": [{"title": "no text"}], "responses": ["a"]}, "context"),
        ({"prompt": "q", "context": [{"text": "t" * 100_001}], "responses": ["a"]}, "context"),
        ({"prompt": "q", "context": [{"text": "t", "url": "x"}], "responses": ["a"]}, "context"),
        ({"prompt": "q"}, "responses"),
        ({"prompt": "q", "responses": ["a"], "purpose": "fun"}, "purpose"),
    ],
)
def test_bad_bodies_are_a_400_naming_the_field(
    settings, lead, trained_model_version, api_client_for, body, field
):
    settings.CONCORD_SCORE_MAX_ITEMS = 2
    answer = api_client_for(lead).post(url(trained_model_version), body, format="json")
    assert answer.status_code == 400, answer.json()
    assert field in [error.get("field") for error in answer.json()["errors"]], answer.json()
    assert set(answer.json()) == {"detail", "errors"}


def test_a_candidate_scores_for_evaluation_by_its_leads_only(
    lead, reviewer, lead_b, dataset, trained_model_version, make_model_version, api_client_for
):
    candidate = make_model_version(
        dataset, name="candidate-rm", artifacts_dir=trained_model_version.run.artifacts_dir
    )
    body = {"items": ITEMS, "purpose": "evaluation"}
    production = api_client_for(lead).post(url(trained_model_version), body, format="json")
    evaluated = api_client_for(lead).post(url(candidate), body, format="json")
    assert evaluated.status_code == 200, evaluated.json()
    assert evaluated.json() == production.json(), "same weights, same rendering, same scores"
    # Serving stays production-only: the default purpose refuses a candidate.
    serving = api_client_for(lead).post(url(candidate), {"items": ITEMS}, format="json")
    assert serving.status_code == 409 and "purpose 'evaluation'" in serving.json()["detail"]
    # A member of the sprint who does not lead it: 403; another team's lead: 404.
    assert api_client_for(reviewer).post(url(candidate), body, format="json").status_code == 403
    assert api_client_for(lead_b).post(url(candidate), body, format="json").status_code == 404
    # An archived version scores for nobody.
    candidate.stage = ModelStage.ARCHIVED
    candidate.save(update_fields=["stage"])
    archived = api_client_for(lead).post(url(candidate), body, format="json")
    assert archived.status_code == 409 and "archived" in archived.json()["detail"]


def test_a_lead_of_only_some_of_the_sprints_may_not_evaluate(
    lead, other_sprint, make_dataset, sprint, trained_model_version, make_model_version,
    api_client_for,
):  # fmt: skip
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.REVIEWER)
    both = make_dataset([sprint, other_sprint])
    candidate = make_model_version(
        both, name="two-sprints", artifacts_dir=trained_model_version.run.artifacts_dir
    )
    body = {"items": ITEMS, "purpose": "evaluation"}
    assert api_client_for(lead).post(url(candidate), body, format="json").status_code == 403


def test_the_service_refuses_evaluation_for_a_caller_who_does_not_lead_the_data(
    lead, reviewer, lead_b, dataset, trained_model_version, make_model_version
):
    """The lead rule lives in the service too: a caller that skips the API's lookup (a task,
    a command, a future view) still cannot score a candidate for someone outside its data."""
    from training.services.scoring import EvaluationRefused

    candidate = make_model_version(
        dataset, name="service-rm", artifacts_dir=trained_model_version.run.artifacts_dir
    )
    for outsider in (None, reviewer, lead_b):
        with pytest.raises(EvaluationRefused) as refused:
            score_items(candidate, ITEMS, purpose="evaluation", actor=outsider)
        assert refused.value.status == 403
        assert refused.value.problems[0]["field"] == "purpose"
    assert len(score_items(candidate, ITEMS, purpose="evaluation", actor=lead)) == len(ITEMS)


def test_selection_scores_through_the_same_function_as_the_endpoint(
    lead, sprint, context_model, api_client_for
):
    items = []
    for number, item in enumerate(ITEMS[:2]):
        saved = Item.objects.create(
            sprint=sprint, external_id=f"sel-{number}", prompt=item["prompt"],
            context=item.get("context") or [], content_sha256=f"{number:064d}",
        )  # fmt: skip
        for position, text in enumerate(item["responses"]):
            Response.objects.create(item=saved, key="abc"[position], text=text, position=position)
        items.append(saved)
    margins = {scored.item.pk: scored.margin for scored in score_margins(context_model, items)}
    for item, question in zip(items, ITEMS[:2], strict=True):
        scores = api_client_for(lead).post(url(context_model), question, format="json")
        best = sorted(scores.json()["scores"], reverse=True)
        assert margins[item.pk] == pytest.approx(best[0] - best[1], abs=1e-5)
    [[*direct]] = score_items(context_model, [ITEMS[0]])
    assert direct == pytest.approx(
        api_client_for(lead).post(url(context_model), ITEMS[0], format="json").json()["scores"],
        abs=1e-5,
    )


def test_documents_without_ids_score_as_the_import_stored_them(lead, context_model, api_client_for):
    """The import numbers a document without an id (1, 2, ...) and the export renders that id:
    the endpoint fills it in the same way, so a client sending the documents as it imported
    them gets the training rows' scores."""
    texts = ["Rome is the capital of Italy.", "Paris is the capital of France."]
    question = {"prompt": "What is the capital of Italy?", "responses": ["Rome.", "Paris."]}
    client = api_client_for(lead)
    scores = {}
    for name, context in (
        ("without", [{"text": text} for text in texts]),
        ("numbered", [{"id": str(n), "text": text} for n, text in enumerate(texts, start=1)]),
        ("blank", [{"id": "", "text": text} for text in texts]),
    ):
        answer = client.post(url(context_model), {**question, "context": context}, format="json")
        assert answer.status_code == 200, answer.json()
        scores[name] = answer.json()["scores"]
    assert scores["without"] == pytest.approx(scores["numbered"], abs=1e-6)
    # An id given (even blank) is kept: the ids do reach the model.
    assert max(abs(a - b) for a, b in zip(scores["blank"], scores["numbered"], strict=True)) > 1e-6
