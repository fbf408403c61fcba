"""What lands in the file: pairs, margins, filters, split, forms and formats, byte for byte."""

import csv
import hashlib
import io

import pyarrow.parquet as pq
import pytest
from django.conf import settings

from annotation.models import Criterion, CriterionKind
from exports.services.files import final_path
from reviews.models import ConsensusMethod
from tests.exports.export_fixtures import export, flag, jsonl, labelled_item

pytestmark = pytest.mark.django_db


def test_two_responses_give_one_pair_with_margin_from_strength(lead, sprint):
    item = labelled_item(sprint, 1, ranking=("b", "a"), strength=3.0,
                         texts={"a": "worse", "b": "better"})  # fmt: skip
    dataset = export(lead, sprint)
    assert jsonl(dataset) == [{
        "prompt": item.prompt, "chosen": "better", "rejected": "worse",
        "margin": 1.0, "agreement": 1.0, "item_id": item.pk, "split": "train",
    }]  # fmt: skip
    assert dataset.rows == 1
    assert dataset.file_path == f"exports/dataset-{dataset.pk}.jsonl"


def test_a_ranking_of_three_gives_every_implied_pair(lead, sprint):
    labelled_item(sprint, 1, ranking=("c", "a", "b"), strength=3.0,
                  texts={"a": "A", "b": "B", "c": "C"})  # fmt: skip
    dataset = export(lead, sprint)
    # Strength 3 of 3 is 1.0, scaled by how many places apart the two are over N - 1.
    pairs = [(r["chosen"], r["rejected"], r["margin"]) for r in jsonl(dataset)]
    assert pairs == [("C", "A", 0.5), ("C", "B", 1.0), ("A", "B", 0.5)]
    assert dataset.manifest["counts"]["rows_by_split"] == {"train": 3}


def test_margin_is_zero_without_a_strength_or_a_scale(lead, sprint):
    labelled_item(sprint, 1, strength=None)
    assert jsonl(export(lead, sprint))[0]["margin"] == 0.0
    Criterion.objects.filter(rubric=sprint.rubric, kind=CriterionKind.PREFERENCE).update(
        config={"allow_tie": True}
    )
    labelled_item(sprint, 2, strength=2.0)
    assert [r["margin"] for r in jsonl(export(lead, sprint))] == [0.0, 0.0]


def test_filters_drop_items_and_the_manifest_counts_why(lead, annotator, sprint):
    labelled_item(sprint, 1)
    labelled_item(sprint, 2, gold=True)
    labelled_item(sprint, 3, tie=True)
    labelled_item(sprint, 4, agreement=0.2)
    flag(labelled_item(sprint, 5), annotator)
    labelled_item(sprint, 6, method=ConsensusMethod.ADJUDICATED)
    labelled_item(sprint, 7, ranking=("a",))
    dataset = export(lead, sprint, min_agreement=0.5, exclude_flagged=True)
    counts = dataset.manifest["counts"]
    assert counts["items_dropped"] == {
        "flagged": 1, "gold": 1, "incomplete_ranking": 1, "low_agreement": 1, "tie": 1,
    }  # fmt: skip
    assert counts["items_kept"] == 2 and dataset.rows == 2

    only = export(lead, sprint, adjudicated_only=True, include_gold=True)
    assert [r["item_id"] for r in jsonl(only)] == [sprint.items.get(external_id="sprint-a-6").pk]
    assert only.manifest["counts"]["items_dropped"]["not_adjudicated"] == 6


def test_min_agreement_zero_is_a_filter(lead, sprint):
    labelled_item(sprint, 1, agreement=-0.2)
    labelled_item(sprint, 2, agreement=None)
    labelled_item(sprint, 3, agreement=0.0)
    dataset = export(lead, sprint, min_agreement=0.0)
    assert dataset.rows == 1
    assert dataset.manifest["counts"]["items_dropped"] == {"low_agreement": 2}


def test_a_response_flagged_by_the_consensus_drops_the_item(lead, sprint):
    Criterion.objects.create(rubric=sprint.rubric, name="unsafe", kind=CriterionKind.FLAG,
                             question="Unsafe?", position=5)  # fmt: skip
    labelled_item(sprint, 1, answers={"unsafe": {"a": 0.0, "b": 2 / 3}})
    labelled_item(sprint, 2, answers={"unsafe": {"a": 0.5, "b": 0.0}})  # not a majority
    assert export(lead, sprint).rows == 2
    dataset = export(lead, sprint, exclude_flagged=True)
    assert [r["item_id"] for r in jsonl(dataset)] == [sprint.items.get(external_id="sprint-a-2").pk]
    assert dataset.manifest["counts"]["items_dropped"] == {"flagged": 1}


def test_gold_is_excluded_unless_asked(lead, sprint):
    labelled_item(sprint, 1, gold=True)
    assert export(lead, sprint).rows == 0
    assert export(lead, sprint, include_gold=True).rows == 1


def test_unlabelled_items_are_counted(lead, sprint):
    from tests.annotation.labeling_fixtures import add_items

    labelled_item(sprint, 1)
    add_items(sprint, 2)
    assert export(lead, sprint).manifest["counts"]["items_dropped"] == {"no_consensus": 2}


def test_the_split_never_puts_one_prompt_on_both_sides(lead, sprint):
    for n in range(60):
        # Ten prompts, each asked in six items.
        labelled_item(sprint, n, prompt=f"Shared question {n % 10}?")
    rows = jsonl(export(lead, sprint, test_fraction=0.3, seed=7))
    sides: dict[str, set] = {}
    for row in rows:
        sides.setdefault(row["prompt"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert {"train", "test"} == set().union(*sides.values())
    other_seed = jsonl(export(lead, sprint, test_fraction=0.3, seed=8))
    assert [r["split"] for r in other_seed] != [r["split"] for r in rows]


def test_re_export_is_byte_identical_and_the_manifest_hash_matches(lead, sprint):
    for n in range(5):
        labelled_item(sprint, n, ranking=("b", "a", "c"))
    for fmt in ("jsonl", "parquet", "csv"):
        first, second = export(lead, sprint, fmt=fmt), export(lead, sprint, fmt=fmt)
        a, b = final_path(first).read_bytes(), final_path(second).read_bytes()
        assert a == b
        assert hashlib.sha256(a).hexdigest() == first.sha256 == first.manifest["sha256"]
        assert first.manifest["rows"] == first.rows == 15
        assert first.manifest["bytes"] == len(a)


def test_parquet_has_the_preference_columns_in_row_groups(lead, sprint):
    for n in range(3):
        labelled_item(sprint, n)
    table = pq.read_table(final_path(export(lead, sprint, fmt="parquet")))
    assert table.column_names == [
        "prompt", "chosen", "rejected", "margin", "agreement", "item_id", "split",
    ]  # fmt: skip
    assert table.num_rows == 3 and table.column("split").to_pylist() == ["train"] * 3


def test_an_empty_export_is_a_valid_file(lead, sprint):
    assert export(lead, sprint).rows == 0
    table = pq.read_table(final_path(export(lead, sprint, fmt="parquet")))
    assert table.num_rows == 0 and "chosen" in table.column_names
    assert final_path(export(lead, sprint, fmt="csv")).read_bytes().decode() == (
        "prompt,chosen,rejected,margin,agreement,item_id,split\r\n"
    )


def test_conversational_form_holds_messages(lead, sprint):
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Reset my password?"}]  # fmt: skip
    labelled_item(sprint, 1, prompt=chat, texts={"a": "Use the link", "b": "No"})
    labelled_item(sprint, 2, prompt="A plain question?")
    first, second = jsonl(export(lead, sprint, form="conversational"))
    assert first["prompt"] == chat
    assert first["chosen"] == [{"role": "assistant", "content": "Use the link"}]
    assert first["rejected"] == [{"role": "assistant", "content": "No"}]
    assert second["prompt"] == [{"role": "user", "content": "A plain question?"}]
    table = pq.read_table(final_path(export(lead, sprint, fmt="parquet", form="conversational")))
    assert table.column("prompt").to_pylist()[0] == chat


def test_standard_form_flattens_a_chat_prompt(lead, sprint):
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    labelled_item(sprint, 1, prompt=chat)
    assert jsonl(export(lead, sprint))[0]["prompt"] == "user: Hi\n\nassistant: Hello"


def test_csv_defuses_formulas(lead, sprint):
    labelled_item(sprint, 1, prompt="=HYPERLINK(\"http://evil\")",
                  texts={"a": "+1+2", "b": "@SUM(A1)"})  # fmt: skip
    labelled_item(sprint, 2, texts={"a": "-3", "b": "\t=1"}, prompt="\rcmd")
    text = final_path(export(lead, sprint, fmt="csv")).read_bytes().decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows[0]["prompt"] == '\'=HYPERLINK("http://evil")'
    assert (rows[0]["chosen"], rows[0]["rejected"]) == ("'+1+2", "'@SUM(A1)")
    assert (rows[1]["chosen"], rows[1]["rejected"]) == ("'-3", "'\t=1")
    assert rows[1]["prompt"] == "'\rcmd"
    assert rows[0]["margin"] == "0.6666666666666666"  # numbers are not prefixed


def test_judgments_export_is_pseudonymised(lead, annotator, sprint, make_user):
    from annotation.models import Judgment, SprintMember
    from tests.annotation.labeling_fixtures import good_answers, lease_item

    named = make_user("ann2")
    SprintMember.objects.create(sprint=sprint, user=named, pseudonym="rater-7")
    item = labelled_item(sprint, 1)
    gold = labelled_item(sprint, 2, gold=True)
    for n, (user, it) in enumerate([(annotator, item), (named, item), (annotator, gold)]):
        Judgment.objects.create(
            sprint=sprint, item=it, assignment=lease_item(it, user), annotator=user,
            rubric=sprint.rubric, answers=good_answers(), seconds=12.5, idempotency_key=f"k{n}",
        )  # fmt: skip
    dataset = export(lead, sprint, kind="judgments")
    raw = final_path(dataset).read_text()
    assert annotator.username not in raw and named.username not in raw
    rows = jsonl(dataset)
    assert [r["item_id"] for r in rows] == [item.pk, item.pk]  # gold left out
    assert rows[0]["annotator"].startswith("annotator-") and rows[1]["annotator"] == "rater-7"
    assert rows[0]["answers"] == good_answers()
    assert dataset.manifest["annotators"] == sorted(r["annotator"] for r in rows)
    assert export(lead, sprint, kind="judgments").manifest["annotators"] == sorted(
        r["annotator"] for r in rows
    )
    assert export(lead, sprint, kind="judgments", include_gold=True).rows == 3


def test_a_revision_replaces_the_judgment_it_revises(lead, annotator, sprint):
    from annotation.models import Judgment
    from tests.annotation.labeling_fixtures import good_answers, lease_item

    item = labelled_item(sprint, 1)
    assignment = lease_item(item, annotator)
    first = Judgment.objects.create(
        sprint=sprint, item=item, assignment=assignment, annotator=annotator,
        rubric=sprint.rubric, answers=good_answers(), idempotency_key="k1",
    )  # fmt: skip
    revision = Judgment.objects.create(
        sprint=sprint, item=item, assignment=assignment, annotator=annotator,
        rubric=sprint.rubric, answers=good_answers(("b", "a")), idempotency_key="k2",
        supersedes=first,
    )  # fmt: skip
    (row,) = jsonl(export(lead, sprint, kind="judgments"))
    assert row["judgment_id"] == revision.pk and row["revision_of"] == first.pk


def test_consensus_export_has_one_row_per_item_ties_included(lead, sprint):
    labelled_item(sprint, 1, ranking=("b", "a", "c"), answers={"helpfulness": {"a": 4.5}})
    labelled_item(sprint, 2, tie=True)
    first, tie = jsonl(export(lead, sprint, kind="consensus"))
    assert first["ranking"] == ["b", "a", "c"] and set(first["responses"]) == {"a", "b", "c"}
    assert first["scores"] == {"helpfulness": {"a": 4.5}} and first["method"] == "majority"
    assert tie["tie"] is True and tie["ranking"] == []
    table = pq.read_table(final_path(export(lead, sprint, kind="consensus", fmt="parquet")))
    assert table.num_rows == 2


def test_no_partial_file_is_left_and_the_file_sits_in_the_data_dir(lead, sprint):
    labelled_item(sprint, 1)
    dataset = export(lead, sprint)
    folder = settings.DATA_DIR / "exports"
    assert not list(folder.glob("*.partial-*"))
    assert final_path(dataset).parent == folder


def test_manifest_states_provenance(lead, sprint, other_sprint):
    other_sprint.memberships.create(user=lead, role="lead")
    labelled_item(sprint, 1)
    labelled_item(other_sprint, 1)
    manifest = export(lead, [other_sprint, sprint], test_fraction=0.5).manifest
    assert [s["id"] for s in manifest["sprints"]] == [sprint.pk, other_sprint.pk]
    assert manifest["sprints"][0]["name"] == sprint.name
    assert manifest["sprints"][0]["rubric"] == {
        "id": sprint.rubric_id, "name": sprint.rubric.name, "version": sprint.rubric.version,
    }  # fmt: skip
    assert set(manifest["sprints"][0]["agreement"]) >= {"items", "judgments", "criteria"}
    assert manifest["created_by"] == "lead" and manifest["concord_version"]
    assert manifest["kind"] == "preference" and manifest["format"] == "jsonl"
    assert manifest["filters"]["include_gold"] is False
    assert manifest["filters"]["test_fraction"] == 0.5
    assert manifest["counts"]["items_kept"] == 2 and manifest["rows"] == 2
