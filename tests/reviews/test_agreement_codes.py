"""Agreement from the judgments' agreement records equals agreement from their JSON answers.

The report reads ``Judgment.agreement_codes`` when every live judgment has a record coded for
the sprint's rubric, and the JSON answers otherwise (judgments stored before records were
written). Random sprints (pairs and rankings of three, ties, strengths, Likert, flags, text,
revisions, gold) are reported both ways and must match exactly: alphas, intervals, counts and
per-annotator figures. Runs on SQLite and, with DATABASE_URL, on PostgreSQL.
"""

import functools
import random

import pytest
from django.utils import timezone

from annotation.models import (
    Criterion,
    CriterionKind,
    GoldAnswer,
    Item,
    Judgment,
    Response,
    Rubric,
    Sprint,
)
from annotation.services.agreement_codes import encode
from annotation.services.judgments import submit_judgment
from reviews.services import agreement_units
from reviews.services.agreement import sprint_agreement
from reviews.services.agreement_codes_read import read_codes
from reviews.services.agreement_rows import answer_names, read_rows
from tests.annotation.labeling_fixtures import add_items, good_answers, join, lease_item
from tests.reviews.agreement_fixtures import members, store_judgment

pytestmark = pytest.mark.django_db

# Keys whose code point order differs from their order on the page and from a locale's order.
KEYS = ["b", "a", "Z", "é", "10", "9", "a b", ""]


def _rubric() -> Rubric:
    rubric = Rubric.objects.create(name="random")
    specs = [
        ("text_note", CriterionKind.TEXT, {}),
        (
            "preference",
            CriterionKind.PREFERENCE,
            {"allow_tie": True, "strength_labels": ["slightly", "clearly", "much"]},
        ),
        ("helpful", CriterionKind.LIKERT, {"min": 1, "max": 5}),
        ("unsafe", CriterionKind.FLAG, {}),
        ("correct", CriterionKind.LIKERT, {"min": 0, "max": 3, "level": "interval"}),
    ]
    for position, (name, kind, config) in enumerate(specs):
        Criterion.objects.create(
            rubric=rubric,
            name=name,
            kind=kind,
            question=name,
            config=config,
            position=position,
            required=False,
        )
    return rubric


def _answers(rng: random.Random, keys: list[str]) -> dict:
    answers: dict = {"text_note": "fine"}
    if rng.random() < 0.15:
        answers["preference"] = {"tie": True}
    else:
        ranking = rng.sample(keys, len(keys))
        answers["preference"] = {"ranking": ranking}
        if rng.random() < 0.7:
            answers["preference"]["strength"] = rng.randint(1, 3)
    answers["helpful"] = {k: rng.randint(1, 5) for k in keys if rng.random() < 0.9}
    if rng.random() < 0.6:
        answers["unsafe"] = {k: rng.random() < 0.3 for k in keys}
    if rng.random() < 0.8:
        answers["correct"] = {k: rng.randint(0, 3) for k in keys}
    return answers


def random_sprint(make_user, seed: int, items: int = 24) -> tuple[Sprint, object]:
    """A sprint of ``items`` items of 2 or 3 responses judged by 5 annotators, some judgments
    revised, some items gold; returns it and a moment half-way through the judging."""
    rng = random.Random(seed)
    sprint = Sprint.objects.create(
        name=f"random {seed}", slug=f"random-{seed}", rubric=_rubric(), status="active"
    )
    coders = members(sprint, make_user, [f"c{n}" for n in range(5)])
    stored = []
    for index in range(items):
        keys = rng.sample(KEYS, rng.choice([2, 2, 3]))
        item = Item.objects.create(
            sprint=sprint,
            external_id=f"r-{index}",
            prompt="?",
            content_sha256=f"{seed:032d}{index:032d}",
            is_gold=index % 6 == 0,
        )
        for position, key in enumerate(keys):
            Response.objects.create(item=item, key=key, text=key, position=position)
        if item.is_gold:
            GoldAnswer.objects.create(item=item, answers={"ranking": rng.sample(keys, len(keys))})
        for coder in rng.sample(coders, rng.randint(1, 5)):
            stored.append((item, coder, keys))
    middle = None
    for number, (item, coder, keys) in enumerate(stored):
        store_judgment(item, coder, _answers(rng, keys), seconds=rng.choice([None, 3.5, 40.0]))
        if number == len(stored) // 2:
            middle = timezone.now()
    for item, coder, keys in rng.sample(stored, len(stored) // 5):
        store_judgment(item, coder, _answers(rng, keys), seconds=rng.uniform(1, 90))
    return sprint, middle


def from_json(sprint: Sprint, **options) -> dict:
    """The report built from the JSON answers alone (the path before records, the oracle)."""
    original = agreement_units.read_rows
    agreement_units.read_rows = functools.partial(original, codes=False)
    try:
        return sprint_agreement(sprint, **options)
    finally:
        agreement_units.read_rows = original


def coded(sprint: Sprint) -> bool:
    criteria = list(Criterion.objects.filter(rubric_id=sprint.rubric_id))
    read = read_codes(sprint, criteria, answer_names(criteria), None, Judgment.objects.db)
    return read is not None and len(read[1]) == 0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_report_from_records_equals_report_from_json(make_user, seed):
    sprint, middle = random_sprint(make_user, seed)
    assert coded(sprint)
    report = sprint_agreement(sprint, bootstrap=200, seed=seed)
    assert report == from_json(sprint, bootstrap=200, seed=seed)
    assert report["criteria"]["preference"]["alpha"] is not None
    assert "preference.strength" in report["criteria"]
    assert any(a["gold_items"] for a in report["annotators"])
    earlier = sprint_agreement(sprint, bootstrap=50, until=middle)
    assert earlier == from_json(sprint, bootstrap=50, until=middle)
    assert earlier["judgments"] < report["judgments"]


def test_rows_from_records_hold_the_same_rankings_as_json(make_user):
    sprint, _ = random_sprint(make_user, 7, items=10)
    records, _ = read_rows(sprint)
    parsed, _ = read_rows(sprint, codes=False)
    assert records.item_keys is not None and parsed.item_keys is None

    def rankings(judgments) -> dict:
        return {
            (int(judgments.item_ids[row]), int(judgments.annotator_ids[row])): (
                judgments.ranking(row)
            )
            for row in range(judgments.count)
        }

    by_records = rankings(agreement_units.load_judgments(sprint))
    original = agreement_units.read_rows
    agreement_units.read_rows = functools.partial(original, codes=False)
    try:
        by_json = rankings(agreement_units.load_judgments(sprint))
    finally:
        agreement_units.read_rows = original
    assert by_records == by_json
    assert any(len(ranking) == 3 for ranking in by_json.values())


def _store_without_record(judgment: Judgment, answers: dict, key: str) -> Judgment:
    """A revision of ``judgment`` as a judgment stored before records looks: no record."""
    return Judgment.objects.create(
        sprint=judgment.sprint,
        item=judgment.item,
        assignment=judgment.assignment,
        annotator=judgment.annotator,
        rubric=judgment.sprint.rubric,
        answers=answers,
        seconds=1.0,
        idempotency_key=key,
        supersedes=judgment,
    )


def _live(sprint: Sprint) -> list[Judgment]:
    return list(
        Judgment.objects.filter(sprint=sprint, superseded_by__isnull=True)
        .select_related("item", "sprint", "assignment", "annotator")
        .order_by("pk")
    )


@pytest.mark.parametrize("seed", [5, 8])
def test_judgments_stored_before_records_are_read_as_json(make_user, seed):
    sprint, _ = random_sprint(make_user, seed, items=16)
    rng = random.Random(seed)
    live = _live(sprint)
    for number, judgment in enumerate(rng.sample(live, len(live) // 4)):
        keys = list(judgment.item.responses.values_list("key", flat=True))
        _store_without_record(judgment, _answers(rng, keys), f"before-records-{number}")
    criteria = list(Criterion.objects.filter(rubric_id=sprint.rubric_id))
    fields, missing = read_codes(
        sprint, criteria, answer_names(criteria), None, Judgment.objects.db
    )
    assert len(missing) == len(live) // 4
    assert len(fields["item"]) == len(live) - len(missing)
    report = sprint_agreement(sprint, bootstrap=100)
    assert report == from_json(sprint, bootstrap=100)
    assert report["judgments"] == len(live)
    rows, _ = read_rows(sprint)
    assert rows.item_keys is not None  # records and JSON together, not the JSON read alone


def test_a_sprint_mostly_without_records_is_read_as_json(make_user):
    sprint, _ = random_sprint(make_user, 9, items=10)
    for number, judgment in enumerate(_live(sprint)):
        _store_without_record(judgment, {"preference": {"tie": True}}, f"old-{number}")
    assert not coded(sprint)
    rows, _ = read_rows(sprint)
    assert rows.item_keys is None
    assert sprint_agreement(sprint, bootstrap=100) == from_json(sprint, bootstrap=100)


def test_records_of_a_renamed_criterion_are_not_trusted(make_user):
    sprint, _ = random_sprint(make_user, 6, items=12)
    Criterion.objects.filter(rubric=sprint.rubric, name="helpful").update(name="useful")
    assert not coded(sprint)
    assert sprint_agreement(sprint, bootstrap=100) == from_json(sprint, bootstrap=100)


def test_answers_not_in_the_stored_shape_get_no_record():
    criteria = [
        Criterion(pk=1, name="preference", kind=CriterionKind.PREFERENCE),
        Criterion(pk=2, name="helpful", kind=CriterionKind.LIKERT),
    ]

    def record(answers):
        return encode(criteria, ["a", "b"], answers, item_id=1, annotator_id=2, seconds=None)

    assert record({"preference": {"ranking": ["b", "a"]}, "helpful": {"a": 3}}) is not None
    assert record({"preference": {"ranking": ["b", "c"]}}) is None
    assert record({"preference": {"tie": "yes"}}) is None
    assert record({"helpful": {"a": "3"}}) is None
    assert record({"helpful": {"a": 10**6}}) is None
    assert record({"helpful": 4}) is None
    assert record(["a"]) is None


def test_a_submit_stores_its_record_in_the_same_insert(sprint, make_user):
    (user,) = join(sprint, make_user("coder"))
    item = add_items(sprint, 1)[0]
    assignment = lease_item(item, user)
    outcome = submit_judgment(
        user, assignment.pk, good_answers(("b", "a")), seconds=3, idempotency_key="k1"
    )
    judgment = Judgment.objects.get(pk=outcome.judgment.pk)
    criteria = list(Criterion.objects.filter(rubric_id=sprint.rubric_id))
    assert bytes(judgment.agreement_codes) == encode(
        criteria,
        ["a", "b"],
        judgment.answers,
        item_id=item.pk,
        annotator_id=user.pk,
        seconds=3,
    )
    fields, missing = read_codes(
        sprint, criteria, answer_names(criteria), None, Judgment.objects.db
    )
    assert len(missing) == 0
    assert fields["entry_place"].tolist() == [1, 0]  # "a" ranked second, "b" first
