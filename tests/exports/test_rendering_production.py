"""Production pairs (the feedback app's corrections and picks) go through the same prompt
rendering as a sprint's pairs: the documents the model saw (the event's ``context``) are in the
prompt by default, left out with ``context: none``, in a system message in the conversational
form; and in the grouped form an event's pairs with one chosen response become one row."""

import pytest

from exports.services.grouped import expand_grouped_rows
from exports.services.production_rows import PRODUCTION_PREFERENCE_COLUMNS
from exports.services.prompt_rendering import PromptRendering
from feedback.services.production_preferences import record_preferences
from tests.exports.export_fixtures import labelled_item
from tests.exports.production_fixtures import shown
from tests.exports.rag_fixtures import ACCOUNT, BILLING, CHAT, DEFAULT_BLOCK, export_over_api
from tests.support.builders import feedback_event, feedback_source

pytestmark = pytest.mark.django_db

INVOICE = "Where is my invoice?"
RESET = [*CHAT, {"role": "user", "content": "How do I reset my password?"}]


@pytest.fixture
def rag_events(lead):
    """ev-1: a correction, one document; ev-2: a chat prompt with two documents, a pick of b
    over the answer and over c; ev-3: no documents, a correction and a pick."""
    source = feedback_source("support-bot", leads=[lead])
    events = [
        feedback_event(source, "ev-1", prompt=INVOICE, context=[BILLING],
                       response="Look around.", correction="Billing, then Invoices."),
        feedback_event(source, "ev-2", prompt=RESET, context=[ACCOUNT, BILLING],
                       response="Call us.", signals={"picked": "b"},
                       alternatives=[shown("b", "Settings, then Security."),
                                     shown("c", "No idea.")]),
        feedback_event(source, "ev-3", prompt="Cancel my plan?", response="Cannot.",
                       correction="Billing, then Cancel.", signals={"picked": "b"},
                       alternatives=[shown("b", "Use Billing.")]),
    ]  # fmt: skip
    assert record_preferences(event.pk for event in events) == 5
    return {event.event_id: event for event in events}


@pytest.fixture
def exported(lead, api_client_for, eager_celery, django_capture_on_commit_callbacks):
    client = api_client_for(lead)

    def run(fmt="jsonl", sprints=(), **filters):
        body = {"kind": "preference", "format": fmt, "filters": filters,
                "sprints": [s.pk for s in sprints],
                "sources": ["sprints", "production"] if sprints else ["production"]}  # fmt: skip
        return export_over_api(client, django_capture_on_commit_callbacks, body)

    return run


def by_event(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["event_id"], []).append(row)
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_production_prompts_carry_the_documents_the_model_saw(rag_events, exported, fmt):
    detail, rows = exported(fmt)
    events = by_event(rows)
    assert events["ev-1"][0]["prompt"] == (
        f"Context documents:\n[1] Billing (id: kb-40)\nInvoices are under Billing.\n\n{INVOICE}"
    )
    assert events["ev-2"][0]["prompt"].startswith(f"{DEFAULT_BLOCK}\n\nsystem: Be brief.")
    assert events["ev-3"][0]["prompt"] == "Cancel my plan?"
    rendering = PromptRendering()
    for event_id, event in rag_events.items():
        for row in events[event_id]:
            assert row["prompt"] == rendering.prompt(event.prompt, event.context)
    assert detail["manifest"]["rendering"]["context"] == "prompt"


def test_conversational_production_rows_have_the_documents_in_a_system_message(
    rag_events, exported
):
    _, rows = exported("parquet", form="conversational")
    pick = by_event(rows)["ev-2"][0]
    assert pick["prompt"][0] == {"role": "system", "content": f"Be brief.\n\n{DEFAULT_BLOCK}"}
    assert pick["prompt"][1:] == RESET[1:]
    assert pick["chosen"] == [{"role": "assistant", "content": "Settings, then Security."}]


def test_context_none_leaves_the_events_documents_out(rag_events, exported):
    detail, rows = exported(context="none")
    assert by_event(rows)["ev-1"][0]["prompt"] == INVOICE
    assert not any("Context documents" in row["prompt"] for row in rows)
    assert detail["manifest"]["rendering"]["context"] == "none"


def test_a_custom_template_applies_to_production_rows(rag_events, exported):
    _, rows = exported(context_template="Sources:\n{documents}", document_template="- {title}")
    assert by_event(rows)["ev-2"][0]["prompt"].startswith("Sources:\n- Account help\n\n- Billing")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_grouped_production_rows_group_an_events_pairs_by_chosen(
    lead, sprint, rag_events, exported, fmt
):
    labelled_item(sprint, 1, ranking=("a", "b", "c"), context=[ACCOUNT])
    detail, rows = exported(fmt, sprints=[sprint], form="grouped")
    assert [row["origin"] for row in rows] == ["sprints", "production", "production",
                                               "production", "production"]  # fmt: skip
    assert list(rows[0]) == list(PRODUCTION_PREFERENCE_COLUMNS)
    events = by_event(rows[1:])
    (pick,) = events["ev-2"]
    assert (pick["chosen"], pick["rejected"], pick["margin"]) == (
        "Settings, then Security.", ["Call us.", "No idea."], [0.0, 0.0],
    )  # fmt: skip
    assert pick["kind"] == "pick" and pick["item_id"] is None
    assert pick["prompt"].startswith(DEFAULT_BLOCK)
    correction, own_pick = events["ev-3"]
    assert (correction["kind"], correction["rejected"]) == ("correction", ["Cannot."])
    assert (own_pick["kind"], own_pick["rejected"]) == ("pick", ["Cannot."])
    production = detail["manifest"]["parts"]["production"]
    assert production["rows"] == 4 and production["rows_by_kind"] == {"correction": 2, "pick": 2}
    assert detail["rows"] == 5
    assert detail["manifest"]["rendering"]["form"] == "grouped"
    # Expanded, the grouped production rows are the standard form's production pairs.
    _, pairs = exported(fmt, sprints=[sprint])
    standard = [row for row in pairs if row["origin"] == "production"]
    assert list(expand_grouped_rows(rows[1:])) == standard
