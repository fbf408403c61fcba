"""A sprint with many distinct response ids is still reviewed and exported (issue 13).

Agreement used to read one SQL column per distinct response key and criterion: 300 items with
ids like ``resp-<hex>`` (600 keys, 2,400 columns with this rubric), or one item of 600
responses, made the agreement API and the dashboard answer 500 and every export fail with
TooManyColumns. The figures here are checked against ``krippendorff.alpha`` on a reliability
matrix built by hand, so the per-row read is shown to count what the per-column read counted.
"""

import hashlib

import krippendorff
import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from annotation.models import Assignment, Criterion, CriterionKind, Item, Judgment, Response
from annotation.models.judgments import AssignmentStatus
from reviews.services.agreement import sprint_agreement
from reviews.services.agreement_rows import read_rows
from tests.exports.export_fixtures import export, labelled_item
from tests.reviews.agreement_fixtures import agreement_record, members

pytestmark = pytest.mark.django_db

ITEMS = 300


def _key(n: int, side: int) -> str:
    return "resp-" + hashlib.sha256(f"{n}-{side}".encode()).hexdigest()[:12]


def _judge(judged: list[tuple]) -> None:
    """Store one live judgment per (item, user, answers) in two statements, as submit_judgment
    stores them (a submitted assignment each); a 300-item sprint one by one is slow to build."""
    now = timezone.now()
    assignments = Assignment.objects.bulk_create(
        Assignment(
            sprint=item.sprint,
            item=item,
            annotator=user,
            status=AssignmentStatus.SUBMITTED,
            leased_at=now,
            lease_expires_at=now,
        )
        for item, user, _ in judged
    )
    Judgment.objects.bulk_create(
        Judgment(
            sprint=item.sprint,
            item=item,
            assignment=assignment,
            annotator=user,
            rubric=item.sprint.rubric,
            answers=answers,
            seconds=12.0,
            idempotency_key=f"{item.pk}-{user.pk}",
            agreement_codes=agreement_record(item, user, answers, 12.0),
        )
        for (item, user, answers), assignment in zip(judged, assignments, strict=True)
    )


@pytest.fixture
def wide_rubric(sprint):
    """The shared rubric (preference with strength, helpfulness) plus a second Likert score and
    a flag, as a real rubric has: four answers per response key."""
    Criterion.objects.create(
        rubric=sprint.rubric,
        name="accuracy",
        kind=CriterionKind.LIKERT,
        question="How accurate?",
        config={"min": 1, "max": 5},
        position=2,
    )
    Criterion.objects.create(
        rubric=sprint.rubric,
        name="unsafe",
        kind=CriterionKind.FLAG,
        question="Unsafe?",
        required=False,
        position=3,
    )
    return sprint


@pytest.fixture
def many_keys(wide_rubric, make_user):
    """300 labelled items whose two responses have ids ``resp-<hex>`` (600 distinct keys),
    judged by three annotators; the third disagrees on every fifth item. Returns the sprint
    and the expected preference matrix (annotators x items, +1 when the key that sorts first
    wins)."""
    sprint = wide_rubric
    users = members(sprint, make_user, ["x", "y", "z"])
    matrix = np.zeros((3, ITEMS))
    judged = []
    for n in range(ITEMS):
        pair = (_key(n, 0), _key(n, 1))
        item = labelled_item(sprint, n, ranking=pair)
        for number, user in enumerate(users):
            ranking = list(pair[::-1]) if number == 2 and n % 5 == 0 else list(pair)
            matrix[number, n] = 1 if ranking[0] == min(pair) else -1
            scores = {key: 3 + (number == 1 and n % 7 == 0) for key in pair}
            answers = {
                "preference": {"ranking": ranking, "strength": 2},
                "helpfulness": scores,
                "accuracy": scores,
                "unsafe": {pair[0]: n % 11 == 0},
            }
            judged.append((item, user, answers))
    _judge(judged)
    return sprint, matrix


def test_agreement_api_answers_for_600_distinct_keys(many_keys, lead, api_client_for):
    sprint, matrix = many_keys
    response = api_client_for(lead).get(
        f"/api/v1/sprints/{sprint.pk}/agreement", {"bootstrap": 100, "seed": 1}
    )
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["items"] == ITEMS and body["judgments"] == 3 * ITEMS
    preference = body["criteria"]["preference"]
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert preference["alpha"] == pytest.approx(expected, abs=1e-12)
    assert preference["items"] == ITEMS and preference["judgments"] == 3 * ITEMS
    assert preference["ci"][0] <= preference["alpha"] <= preference["ci"][1]
    # The strength is signed by the winner: +2 where the first key by sort order wins.
    strength = body["criteria"]["preference.strength"]
    expected = krippendorff.alpha(
        reliability_data=2 * matrix, level_of_measurement="ordinal", value_domain=range(-3, 4)
    )
    assert strength["alpha"] == pytest.approx(expected, abs=1e-12)
    # Two scores per item: 600 (item, response) units, each scored by all three.
    assert body["criteria"]["helpfulness"]["items"] == ITEMS
    assert body["criteria"]["unsafe"]["percent_agreement"] == 1.0
    again = api_client_for(lead).get(
        f"/api/v1/sprints/{sprint.pk}/agreement", {"bootstrap": 100, "seed": 1}
    )
    assert again.json() == body
    # Read from the judgments' agreement records, which no number of keys widens.
    assert read_rows(sprint)[0].item_keys is not None


def test_dashboard_shows_a_sprint_of_600_distinct_keys(many_keys, lead):
    sprint, _ = many_keys
    client = Client()
    client.force_login(lead)
    response = client.get(f"/reviews/sprints/{sprint.pk}/dashboard")
    assert response.status_code == 200
    assert 'data-criterion="preference"' in response.content.decode()


def test_export_of_a_sprint_of_600_distinct_keys_is_built(many_keys, lead):
    sprint, _ = many_keys
    dataset = export(lead, sprint)
    assert dataset.rows == ITEMS
    (entry,) = dataset.manifest["sprints"]
    assert entry["agreement"]["items"] == ITEMS
    assert entry["agreement"]["criteria"]["preference"]["alpha"] is not None


def test_one_item_of_600_responses_is_reviewed(wide_rubric, make_user, lead, api_client_for):
    """Stored directly: import now refuses more than CONCORD_IMPORT_MAX_RESPONSES, but a
    sprint imported before the limit must still be reviewed."""
    sprint = wide_rubric
    item = Item.objects.create(
        sprint=sprint, external_id="crowd", prompt="Which?", content_sha256="c" * 64
    )
    keys = [f"resp-{n:04x}" for n in range(600)]
    Response.objects.bulk_create(
        Response(item=item, key=key, text=f"answer {key}", position=position)
        for position, key in enumerate(keys)
    )
    users = members(sprint, make_user, ["x", "y", "z"])
    rankings = [keys, keys, keys[::-1]]
    _judge(
        [
            (
                item,
                user,
                {"preference": {"ranking": ranking}, "helpfulness": dict.fromkeys(keys, 4)},
            )
            for user, ranking in zip(users, rankings, strict=True)
        ]
    )
    response = api_client_for(lead).get(f"/api/v1/sprints/{sprint.pk}/agreement", {"bootstrap": 50})
    assert response.status_code == 200, response.content[:300]
    preference = response.json()["criteria"]["preference"]
    # 179,700 pairs, on each x and y agree and z disagrees with both: 1 agreeing pair of 3.
    assert preference["percent_agreement"] == pytest.approx(1 / 3)
    assert preference["items"] == 1 and preference["judgments"] == 3
    # No strength unit (the item has more than two responses); every score the same.
    assert response.json()["criteria"]["preference.strength"]["items"] == 0
    assert response.json()["criteria"]["helpfulness"]["percent_agreement"] == 1.0
    report = sprint_agreement(sprint, bootstrap=0)
    assert report["criteria"]["preference"] == {**preference, "ci": [None, None]}
