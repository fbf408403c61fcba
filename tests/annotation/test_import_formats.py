"""Each accepted import format, from a real file on disk, through the import service."""

import json

import pytest

from annotation.models import AuditEvent, GoldAnswer, Item, Response
from annotation.services.imports import import_items
from tests.annotation.import_files import concord_row, hh_dialogue, write_csv, write_jsonl

pytestmark = pytest.mark.django_db


def run_import(sprint, path, **kwargs):
    with path.open("rb") as stream:
        return import_items(sprint, stream, filename=path.name, **kwargs)


def test_concord_jsonl_stores_items_responses_context_and_gold(sprint, lead, tmp_path):
    gold = concord_row("t-2", gold={"ranking": ["b", "a"]})
    three = concord_row(
        "t-3",
        prompt=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
        responses=[
            {"id": "x", "text": "one"},
            {"id": "y", "text": "two"},
            {"id": "z", "text": "three"},
        ],
    )
    path = write_jsonl(tmp_path / "items.jsonl", [concord_row("t-1"), gold, three])

    result = run_import(sprint, path, actor=lead)

    assert (result.created, result.unchanged) == (3, 0)
    item = Item.objects.get(sprint=sprint, external_id="t-1")
    assert item.prompt.startswith("How do I reset my password?")
    assert item.context == [
        {
            "id": "kb-12",
            "title": "Account help",
            "text": "Use the reset link.",
            "source": "https://kb/12",
        }
    ]
    assert (item.source, item.stratum, item.is_gold) == ("prod-log", "billing", False)
    assert list(item.responses.values_list("key", "model_name", "position")) == [
        ("a", "bot-v3", 0),
        ("b", "bot-v4", 1),
    ]
    gold_item = Item.objects.get(external_id="t-2")
    assert gold_item.is_gold and gold_item.gold.answers == {"ranking": ["b", "a"]}
    chat = Item.objects.get(external_id="t-3")
    assert chat.prompt[1] == {"role": "user", "content": "Hi?"}
    assert chat.responses.count() == 3
    event = AuditEvent.objects.get(action="items.imported")
    assert (
        event.actor == lead and event.changes["created"] == 3 and len(event.changes["sha256"]) == 64
    )


def test_reimport_changes_nothing_and_counts_unchanged(sprint, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [concord_row(f"t-{i}") for i in range(5)])
    run_import(sprint, path)
    before = (Item.objects.count(), Response.objects.count(), GoldAnswer.objects.count())

    again = run_import(sprint, path)

    assert (again.created, again.unchanged) == (0, 5)
    assert (Item.objects.count(), Response.objects.count(), GoldAnswer.objects.count()) == before


def test_reimport_with_one_new_line_creates_only_that(sprint, tmp_path):
    run_import(sprint, write_jsonl(tmp_path / "a.jsonl", [concord_row("t-1"), concord_row("t-2")]))
    grown = write_jsonl(
        tmp_path / "b.jsonl", [concord_row("t-1"), concord_row("t-2"), concord_row("t-3")]
    )
    result = run_import(sprint, grown)
    assert (result.created, result.unchanged) == (1, 2)


def test_same_external_id_in_another_sprint_is_a_new_item(sprint, other_sprint, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [concord_row("t-1")])
    run_import(sprint, path)
    assert run_import(other_sprint, path).created == 1
    assert Item.objects.filter(external_id="t-1").count() == 2


def test_trl_rows_text_and_conversational(sprint, tmp_path):
    rows = [
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."},
        {
            "prompt": [{"role": "user", "content": "2+2?"}],
            "chosen": [{"role": "assistant", "content": "4"}],
            "rejected": [{"role": "assistant", "content": "5"}],
        },
        {
            "chosen": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
            ],
            "rejected": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Go away."},
            ],
        },
    ]
    result = run_import(sprint, write_jsonl(tmp_path / "trl.jsonl", rows))
    assert result.created == 3
    france = Item.objects.get(prompt="Capital of France?")
    texts = dict(france.responses.values_list("key", "text"))
    prior = france.metadata["prior_ranking"]
    assert texts[prior[0]] == "Paris." and texts[prior[1]] == "Lyon."
    assert set(texts) == {"a", "b"}  # never "chosen"/"rejected": annotators stay blind
    implicit = Item.objects.get(prompt=[{"role": "user", "content": "Hi"}])
    assert sorted(implicit.responses.values_list("text", flat=True)) == ["Go away.", "Hello!"]


def test_chosen_is_not_always_response_a(sprint, tmp_path):
    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(40)]
    run_import(sprint, write_jsonl(tmp_path / "trl.jsonl", rows))
    firsts = {item.metadata["prior_ranking"][0] for item in Item.objects.all()}
    assert firsts == {"a", "b"}


def test_hh_rlhf_rows_split_shared_turns_into_the_prompt(sprint, tmp_path):
    shared = [
        ("Human", "My neighbour's dog barks all night."),
        ("Assistant", "That sounds tiring."),
        ("Human", "What can I do about it?"),
    ]
    row = {
        "chosen": hh_dialogue(*shared, ("Assistant", "Talk to your neighbour first, calmly.")),
        "rejected": hh_dialogue(*shared, ("Assistant", "Poison the dog.")),
    }
    # A slice of the real data set's shape: several rows, one with a single shared turn.
    short = {
        "chosen": hh_dialogue(
            ("Human", "Tell me a joke."), ("Assistant", "Why did the chicken...")
        ),
        "rejected": hh_dialogue(("Human", "Tell me a joke."), ("Assistant", "No.")),
    }
    result = run_import(sprint, write_jsonl(tmp_path / "hh.jsonl", [row, short]))
    assert result.created == 2
    item = Item.objects.get(metadata__format="hh-rlhf", prompt__0__content=shared[0][1])
    assert item.prompt == [
        {"role": "user", "content": shared[0][1]},
        {"role": "assistant", "content": shared[1][1]},
        {"role": "user", "content": shared[2][1]},
    ]
    texts = dict(item.responses.values_list("key", "text"))
    assert texts[item.metadata["prior_ranking"][0]] == "Talk to your neighbour first, calmly."
    assert texts[item.metadata["prior_ranking"][1]] == "Poison the dog."
    assert item.external_id.startswith("sha-")


def test_hh_reimport_is_idempotent_without_external_ids(sprint, tmp_path):
    rows = [
        {
            "chosen": hh_dialogue(("Human", f"q{i}"), ("Assistant", "yes")),
            "rejected": hh_dialogue(("Human", f"q{i}"), ("Assistant", "no")),
        }
        for i in range(10)
    ]
    path = write_jsonl(tmp_path / "hh.jsonl", rows)
    assert run_import(sprint, path).created == 10
    assert run_import(sprint, path).unchanged == 10


def test_csv_flat_concord_columns(sprint, tmp_path):
    path = write_csv(
        tmp_path / "items.csv",
        [
            "external_id",
            "prompt",
            "response_a",
            "model_a",
            "response_b",
            "model_b",
            "stratum",
            "tags",
            "gold_ranking",
            "context",
        ],
        [
            [
                "c-1",
                "Refund policy?",
                "30 days, with receipt.",
                "v3",
                "No refunds ever.",
                "v4",
                "refunds",
                "billing; policy",
                "a>b",
                json.dumps([{"id": "p1", "text": "Refunds: 30 days."}]),
            ],
            [
                "c-2",
                "Line one\nline two",
                "Multi\nline answer",
                "v3",
                "Short",
                "v4",
                "",
                "",
                "",
                "",
            ],
        ],
    )
    result = run_import(sprint, path)
    assert result.created == 2
    first = Item.objects.get(external_id="c-1")
    assert first.metadata == {"stratum": "refunds", "tags": ["billing", "policy"]}
    assert first.gold.answers == {"ranking": ["a", "b"]}
    assert first.context == [{"id": "p1", "text": "Refunds: 30 days."}]
    assert list(first.responses.values_list("key", "model_name")) == [("a", "v3"), ("b", "v4")]
    assert Item.objects.get(external_id="c-2").prompt == "Line one\nline two"


def test_csv_trl_columns(sprint, tmp_path):
    path = write_csv(
        tmp_path / "pairs.csv", ["prompt", "chosen", "rejected"], [["Q?", "good", "bad"]]
    )
    assert run_import(sprint, path).created == 1


def test_utf8_bom_and_blank_lines_are_accepted(sprint, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(concord_row("t-1")).encode() + b"\n\n\r\n")
    assert run_import(sprint, path).created == 1


def test_progress_callback_sees_every_byte(sprint, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [concord_row(f"t-{i}") for i in range(30)])
    seen = []
    run_import(sprint, path, on_bytes=seen.append, chunk_size=7)
    assert sum(seen) == path.stat().st_size
    assert Item.objects.count() == 30
