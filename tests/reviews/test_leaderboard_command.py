"""``manage.py leaderboard``: the table, the JSON (the API's), several sprints by id or slug,
bad arguments, and ``--user`` applying the API's rule (leads only)."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotation.models import SprintMember, SprintRole
from tests.reviews.leaderboard_fixtures import label, model_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(sprint, other_sprint):
    for n in range(8):
        label(
            model_item(sprint, f"i{n}", {"a": ("bot", "v2"), "b": "rival", "c": ""}),
            ["a", "b", "c"],
        )
        label(model_item(other_sprint, f"o{n}", {"a": "rival", "b": "third"}), ["a", "b"])
    return sprint, other_sprint


def run(*args) -> str:
    out = StringIO()
    call_command("leaderboard", *args, stdout=out)
    return out.getvalue()


def test_the_table_ranks_the_models_of_several_sprints(rated):
    first, second = rated
    table = run("--sprints", str(first.pk), second.slug, "--bootstrap", "20")
    lines = table.splitlines()
    assert "16 items, 16 battles from consensus" in lines[0]
    assert lines[1].split() == [
        "group", "rank", "model", "rating", "95%", "interval", "comparisons"
    ]  # fmt: skip
    assert lines[2].split()[:3] == ["1", "1", "bot@v2"] and lines[2].split()[-1] == "8"
    assert lines[3].split()[:3] == ["1", "2", "rival"] and lines[4].split()[:3] == [
        "1",
        "3",
        "third",
    ]
    assert "win rate of the row's model" in table
    # The matrix's columns are numbered, with a legend naming each in full.
    assert "   1 = bot@v2" in lines and "   3 = third" in lines
    header = next(line for line in lines if line.split() == ["1", "2", "3"])
    assert lines[lines.index(header) + 1].split()[:2] == ["1", "bot@v2"]
    assert "skipped: 8 responses without a model name" in table


def test_sprints_may_be_named_positionally(rated):
    first, second = rated
    positional = run(str(first.pk), second.slug, "--bootstrap", "0")
    assert positional == run("--sprints", str(first.pk), second.slug, "--bootstrap", "0")
    with pytest.raises(CommandError, match="at least one sprint"):
        run()


def test_the_table_prints_the_apis_rounded_figures(rated):
    first, _ = rated
    report = json.loads(run(first.slug, "--json", "--bootstrap", "30"))
    table = run(first.slug, "--bootstrap", "30")
    for entry in report["models"]:
        low, high = entry["ci"]
        assert f"{entry['rating']:.1f}" in table and f"[{low:.1f}, {high:.1f}]" in table
        assert entry["rating"] == round(entry["rating"], 1)


def test_models_that_never_met_are_grouped_and_ranked_within_their_group(sprint):
    for n in range(6):
        label(model_item(sprint, f"big{n}", {"a": "p", "b": "q", "c": "r"}), ["a", "b", "c"])
        label(model_item(sprint, f"small{n}", {"a": "wiki-a", "b": "wiki-b"}), ["a", "b"])
    report = json.loads(run(sprint.slug, "--json", "--bootstrap", "0"))
    placed = [(m["component"], m["rank"], m["model"]) for m in report["models"]]
    assert placed == [(1, 1, "p"), (1, 2, "q"), (1, 3, "r"), (2, 1, "wiki-a"), (2, 2, "wiki-b")]
    table = run(sprint.slug, "--bootstrap", "0")
    assert "groups that never met" in table


def test_json_is_the_services_report(rated):
    first, _ = rated
    report = json.loads(run("--sprints", str(first.pk), "--json", "--source", "judgments"))
    assert report["source"] == "judgments" and report["models"] == []
    report = json.loads(run("--sprints", first.slug, "--json", "--bootstrap", "0"))
    assert [entry["model"] for entry in report["models"]] == ["bot@v2", "rival"]
    assert report["models"][0]["ci"] == [None, None]


def test_bad_arguments_are_refused(rated):
    first, _ = rated
    with pytest.raises(CommandError, match="no sprint"):
        run("--sprints", "no-such-sprint")
    with pytest.raises(CommandError, match="--bootstrap"):
        run("--sprints", first.slug, "--bootstrap", "-1")
    with pytest.raises(CommandError, match="--seed"):
        run("--sprints", first.slug, "--seed", "-2")


def test_user_must_lead_every_sprint(rated, lead, reviewer, annotator):
    first, second = rated
    assert "bot@v2" in run("--sprints", first.slug, "--user", lead.username)
    for member in (reviewer, annotator):
        with pytest.raises(CommandError, match="not a lead"):
            run("--sprints", first.slug, "--user", member.username)
    with pytest.raises(CommandError, match="not a member"):
        run("--sprints", first.slug, second.slug, "--user", lead.username)
    SprintMember.objects.create(sprint=second, user=lead, role=SprintRole.REVIEWER)
    with pytest.raises(CommandError, match="not a lead"):
        run("--sprints", first.slug, second.slug, "--user", lead.username)
    # Without --user the command is the operator's door.
    assert "bot@v2" in run("--sprints", first.slug, second.slug)
    with pytest.raises(CommandError, match="no active user"):
        run("--sprints", first.slug, "--user", "ghost")
