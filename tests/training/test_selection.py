"""Active selection with a real (small, trained) reward model: the next sprint holds the
pool items with the smallest score margins plus a seeded random share, copies the source's
settings, members and gold, and leaves out judged items and items selected before.

The POST answers 202 and a worker builds the sprint (run in-process here: eager Celery and the
on-commit callbacks executed); ``GET /api/v1/selections/{id}`` then shows the result. The job's
recovery and progress have their own tests (test_selection_jobs.py)."""

import pytest
from celery import current_app

from annotation.models import AuditEvent, Item, Judgment, Response, Sprint, SprintRole
from tests.annotation.labeling_fixtures import add_items, good_answers, lease_item
from tests.training.conftest import FACTS, scrambled
from training.models import ModelStage, SelectionRun
from training.services.scoring import scorer_for
from training.services.selection import ScoredItem, choose

pytestmark = pytest.mark.django_db

URL = "/api/v1/sprints/{}/select-next"


@pytest.fixture
def select(api_client_for, django_capture_on_commit_callbacks):
    """POST a selection as ``user``, run its job in-process, return (POST response, status)."""
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True

    def post(user, sprint, body):
        client = api_client_for(user)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(URL.format(sprint.pk), body, format="json")
        if response.status_code != 202:
            return response, None
        return response, client.get(response.json()["status_url"]).json()

    yield post
    current_app.conf.task_always_eager = previous


@pytest.fixture
def pool(sprint, rubric):
    """Twelve unlabeled items with two or three responses each, some easy to tell apart (a
    fact against its scramble), some hard (two paraphrases)."""
    sprint.gold_rate = 0.1
    sprint.overlap_k = 2
    sprint.save()
    items = []
    for index, (subject, answer) in enumerate(FACTS[:12]):
        fact = f"{answer} is {subject}."
        if index % 3 == 0:
            texts = [fact, scrambled(fact, index)]
        elif index % 3 == 1:
            texts = [fact, f"It is {answer}, {subject}.", scrambled(fact, index)]
        else:
            texts = [fact, f"{answer}: that is {subject}."]
        item = Item.objects.create(
            sprint=sprint,
            external_id=f"pool-{index}",
            prompt=f"What is {subject}?",
            content_sha256=f"{index:064d}",
            metadata={"source": "prod-log"},
        )
        for position, text in enumerate(texts):
            Response.objects.create(item=item, key="abc"[position], text=text, position=position)
        items.append(item)
    return items


def margins(model, items) -> dict[int, float]:
    scorer = scorer_for(model)
    result = {}
    for item in items:
        scores = sorted(scorer.score(item.prompt, [r.text for r in item.responses.all()]))
        result[item.pk] = scores[-1] - scores[-2]
    return result


def test_the_next_sprint_takes_the_smallest_margins_and_a_random_share(
    lead, annotator, sprint, pool, trained_model_version, select
):
    judged = pool[0]
    Judgment.objects.create(
        sprint=sprint,
        item=judged,
        assignment=lease_item(judged, annotator),
        annotator=annotator,
        rubric=sprint.rubric,
        answers=good_answers(),
        idempotency_key="k-1",
    )
    [gold] = add_items(sprint, 0, gold=1, prefix="gold")
    unlabeled = pool[1:]
    expected = margins(trained_model_version, unlabeled)

    response, selection = select(
        lead,
        sprint,
        {"size": 5, "random_share": 0.4, "seed": 3, "name": "Round 2", "slug": "round-2"},
    )
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued" and "warning" not in response.json()
    assert selection["status"] == "done", selection
    assert (selection["scored"], selection["total"], selection["progress"]) == (11, 11, 1.0)
    body = selection["result"]
    assert body["model"] == trained_model_version.pk and body["slug"] == "round-2"
    by_margin = sorted(expected, key=lambda pk: (expected[pk], pk))
    assert body["uncertain"] == by_margin[:3], "the three smallest margins first"
    assert len(body["random"]) == 2
    assert set(body["random"]) <= set(by_margin[3:]), "the random share comes from the rest"
    assert judged.pk not in body["uncertain"] + body["random"]
    assert body["gold_copied"] == 1

    new = Sprint.objects.get(pk=body["sprint"])
    assert new.name == "Round 2" and new.status == "draft"
    assert (new.rubric_id, new.overlap_k, new.gold_rate) == (sprint.rubric_id, 2, 0.1)
    assert set(new.memberships.values_list("user__username", "role")) == {
        ("lead", SprintRole.LEAD),
        ("ann1", SprintRole.ANNOTATOR),
    }
    copies = {
        item.metadata["selected_from"]["item"]: item for item in new.items.filter(is_gold=False)
    }
    assert set(copies) == set(body["uncertain"] + body["random"])
    for source_pk, copy in copies.items():
        original = Item.objects.get(pk=source_pk)
        assert copy.prompt == original.prompt and copy.external_id == original.external_id
        assert [r.text for r in copy.responses.all()] == [r.text for r in original.responses.all()]
        reason = copy.metadata["selected_from"]["reason"]
        assert reason == ("uncertain" if source_pk in body["uncertain"] else "random")
        assert copy.metadata["selected_from"]["margin"] == pytest.approx(
            expected[source_pk], abs=1e-4
        )
    gold_copy = new.items.get(is_gold=True)
    assert gold_copy.external_id == gold.external_id
    assert gold_copy.gold.answers == gold.gold.answers
    event = AuditEvent.objects.get(action="sprint.selected_next")
    assert event.actor == lead and event.changes["source"] == sprint.pk

    # The next round leaves out what was selected before.
    again = select(lead, sprint, {"size": 20})[1]["result"]
    first_round = set(body["uncertain"] + body["random"])
    assert set(again["uncertain"] + again["random"]) == set(expected) - first_round
    assert again["slug"] == "sprint-a-next-2"


def test_the_random_share_is_seeded():
    class FakeItem:
        def __init__(self, pk):
            self.pk = pk

    scored = [ScoredItem(FakeItem(pk), margin=pk / 10) for pk in range(1, 21)]
    uncertain, first = choose(scored, size=10, random_share=0.5, seed=1)
    assert [s.item.pk for s in uncertain] == [1, 2, 3, 4, 5]
    _, again = choose(scored, size=10, random_share=0.5, seed=1)
    assert [s.item.pk for s in first] == [s.item.pk for s in again]
    assert all(s.item.pk > 5 for s in first)
    others = {
        tuple(s.item.pk for s in choose(scored, size=10, random_share=0.5, seed=seed)[1])
        for seed in range(2, 8)
    }
    assert len(others) > 1, "other seeds draw other items"
    all_random = choose(scored, size=4, random_share=1.0, seed=0)
    assert all_random[0] == [] and len(all_random[1]) == 4
    no_random = choose(scored, size=30, random_share=0.0, seed=0)
    assert len(no_random[0]) == 20 and no_random[1] == []


def test_the_default_model_is_the_production_model_of_the_sprint(
    lead, sprint, pool, trained_model_version, select
):
    response, selection = select(lead, sprint, {"size": 2})
    assert response.status_code == 202
    assert selection["model"] == trained_model_version.pk
    assert selection["result"]["model"] == trained_model_version.pk


def test_a_candidate_model_is_409_and_nothing_is_created(
    lead, sprint, pool, dataset, make_model_version, api_client_for
):
    candidate = make_model_version(dataset, name="cand", stage=ModelStage.CANDIDATE)
    response = api_client_for(lead).post(
        URL.format(sprint.pk), {"size": 2, "model": candidate.pk}, format="json"
    )
    assert response.status_code == 409
    assert "only a production model scores" in response.json()["detail"]
    assert Sprint.objects.count() == 1 and not SelectionRun.objects.exists()


def test_no_production_model_is_400(lead, sprint, pool, api_client_for):
    response = api_client_for(lead).post(URL.format(sprint.pk), {"size": 2}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "model"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "size"),
        ({"size": 0}, "size"),
        ({"size": 2, "random_share": 1.5}, "random_share"),
        ({"size": 2, "seed": -1}, "seed"),
        ({"size": 2, "slug": "sprint-a"}, "slug"),
        ({"size": 2, "slug": "not a slug"}, "slug"),
        ({"size": 2, "strategy": "entropy"}, "strategy"),
    ],
)
def test_bad_bodies_are_400_and_nothing_is_created(
    lead, sprint, pool, trained_model_version, api_client_for, body, field
):
    response = api_client_for(lead).post(URL.format(sprint.pk), body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["field"] == field
    assert Sprint.objects.count() == 1 and not SelectionRun.objects.exists()


def test_an_empty_pool_is_400(lead, sprint, trained_model_version, api_client_for):
    response = api_client_for(lead).post(URL.format(sprint.pk), {"size": 2}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "No unlabeled items to select."


def test_who_may_select(
    annotator,
    reviewer,
    lead_b,
    sprint,
    other_sprint,
    pool,
    dataset,
    make_model_version,
    api_client_for,
):
    model = make_model_version(dataset, stage=ModelStage.PRODUCTION)
    url = URL.format(sprint.pk)
    body = {"size": 2, "model": model.pk}
    assert api_client_for(annotator).post(url, body, format="json").status_code == 403
    assert api_client_for(reviewer).post(url, body, format="json").status_code == 403
    assert api_client_for(lead_b).post(url, body, format="json").status_code == 404
    assert api_client_for(None).post(url, body, format="json").status_code == 401
    # Another sprint's lead cannot use this team's model on their own sprint either.
    theirs = api_client_for(lead_b).post(URL.format(other_sprint.pk), body, format="json")
    assert theirs.status_code == 400 and theirs.json()["errors"][0]["field"] == "model"
    assert Sprint.objects.count() == 2
