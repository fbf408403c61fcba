"""The leaderboard read from a sprint's consensus labels and live judgments: battles between
models (not responses), ties counted half, model names with versions, skipped responses and
same-model pairs, several sprints together, and the same figures from either reader of
judgments (agreement records or JSON answers)."""

import functools

import pytest

from annotation.models import SprintMember, SprintRole
from reviews.services.agreement_rows import read_rows
from reviews.services.leaderboard import leaderboard, one_decimal
from tests.reviews.leaderboard_fixtures import judge, label, model_item

pytestmark = pytest.mark.django_db


def by_model(report: dict) -> dict[str, dict]:
    return {entry["model"]: entry for entry in report["models"]}


def members(sprint, make_user, names):
    users = []
    for name in names:
        user = make_user(f"{name}-{sprint.pk}")
        SprintMember.objects.create(sprint=sprint, user=user, role=SprintRole.ANNOTATOR)
        users.append(user)
    return users


def test_consensus_battles_count_wins_ties_and_skips(sprint):
    models = {"a": ("bot", "v1"), "b": "rival", "c": ""}
    for n in range(3):
        label(model_item(sprint, f"win-{n}", models), ["a", "c", "b"])
    label(model_item(sprint, "loss", models), ["b", "a", "c"])
    label(model_item(sprint, "tie", models), None)
    label(model_item(sprint, "twins", {"a": "rival", "b": "rival"}), ["a", "b"])
    report = leaderboard([sprint], bootstrap=50, seed=1)
    bot, rival = by_model(report)["bot@v1"], by_model(report)["rival"]
    assert [entry["model"] for entry in report["models"]] == ["bot@v1", "rival"]
    assert (bot["wins"], bot["losses"], bot["ties"], bot["comparisons"]) == (3, 1, 1, 5)
    assert (rival["wins"], rival["losses"], rival["ties"]) == (1, 3, 1)
    assert bot["rating"] > 1000 > rival["rating"]
    assert bot["rating"] + rival["rating"] == pytest.approx(2000, abs=0.02)
    assert bot["ci"][0] <= bot["rating"] <= bot["ci"][1]
    assert report["win_rates"]["models"] == ["bot@v1", "rival"]
    assert report["win_rates"]["rates"] == [[None, 0.7], [0.3, None]]
    assert report["win_rates"]["comparisons"] == [[0, 5], [5, 0]]
    assert report["skipped"] == {"responses_without_model": 5, "same_model_pairs": 1}
    assert report["items"] == 5 and report["battles"] == 5 and report["connected"]


def test_judgments_are_one_vote_each_and_a_tie_pairs_every_response(sprint, make_user):
    ada, bo, cy = members(sprint, make_user, ["ada", "bo", "cy"])
    three = model_item(sprint, "three", {"a": "x", "b": "y", "c": "z"})
    judge(three, ada, ["c", "b", "a"])
    judge(three, bo, ["c", "a", "b"])
    judge(three, cy, None)
    unjudged = model_item(sprint, "skipped", {"a": "x", "b": "z"})
    assert unjudged.pk
    report = leaderboard([sprint], source="judgments", bootstrap=0)
    figures = by_model(report)
    assert report["battles"] == 9 and report["items"] == 1
    assert (figures["z"]["wins"], figures["z"]["losses"], figures["z"]["ties"]) == (4, 0, 2)
    assert (figures["x"]["wins"], figures["x"]["losses"], figures["x"]["ties"]) == (1, 3, 2)
    assert report["models"][0]["model"] == "z"
    assert figures["x"]["rating"] == pytest.approx(figures["y"]["rating"])
    assert all(entry["ci"] == [None, None] for entry in report["models"])


def test_records_and_json_answers_give_the_same_leaderboard(sprint, make_user, monkeypatch):
    users = members(sprint, make_user, ["ada", "bo"])
    for n in range(6):
        item = model_item(sprint, f"i{n}", {"a": "x", "b": "y", "c": "z"})
        judge(item, users[0], ["a", "b", "c"] if n % 2 else ["b", "c", "a"])
        judge(item, users[1], None if n == 3 else ["c", "a", "b"])
    from_records = leaderboard([sprint], source="judgments", bootstrap=30, seed=3)
    monkeypatch.setattr(
        "reviews.services.leaderboard.read_rows", functools.partial(read_rows, codes=False)
    )
    from_json = leaderboard([sprint], source="judgments", bootstrap=30, seed=3)
    assert from_json == from_records
    assert from_records["battles"] == 6 * 2 * 3


def test_several_sprints_pool_their_items(sprint, other_sprint):
    for n in range(4):
        label(model_item(sprint, f"a{n}", {"a": "x", "b": "y"}), ["a", "b"])
        label(model_item(other_sprint, f"b{n}", {"a": "y", "b": "z"}), ["a", "b"])
    alone = leaderboard([sprint], bootstrap=0)
    pooled = leaderboard([sprint, other_sprint], bootstrap=20)
    assert [entry["model"] for entry in alone["models"]] == ["x", "y"]
    assert [entry["model"] for entry in pooled["models"]] == ["x", "y", "z"]
    assert pooled["items"] == 8 and pooled["sprints"] == [sprint.pk, other_sprint.pk]
    assert pooled["win_rates"]["comparisons"][0] == [0, 4, 0]


def test_an_empty_sprint_has_an_empty_leaderboard(sprint):
    report = leaderboard([sprint])
    assert report["models"] == [] and report["battles"] == 0
    assert report["win_rates"] == {"models": [], "rates": [], "comparisons": []}


def test_the_same_seed_gives_the_same_intervals(sprint):
    # Three models an item, so an item's battles move together and the bootstrap interval
    # (which the seed draws) is wider than the Wald one on some side.
    for n in range(30):
        ranking = ["a", "b", "c"] if n % 3 else ["c", "b", "a"] if n % 2 else None
        label(model_item(sprint, f"i{n}", {"a": "x", "b": "y", "c": "z"}), ranking)
    first = leaderboard([sprint], bootstrap=40, seed=7)
    assert leaderboard([sprint], bootstrap=40, seed=7) == first
    assert leaderboard([sprint], bootstrap=40, seed=8)["models"] != first["models"]


def test_ratings_are_rounded_once_to_one_decimal_half_away_from_zero():
    assert [one_decimal(v) for v in (1431.25, -2.25, 1431.35, 1431.36)] == [
        1431.3, -2.3, 1431.3, 1431.4  # 1431.35 is 1431.3499... as a float
    ]  # fmt: skip
