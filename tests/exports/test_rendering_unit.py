"""The prompt rendering on its own: the documented default, the conversational system message,
``context: none``, custom templates, and the template checks that keep a template from a request
out of Python's objects; the grouped form's way back to pairs."""

import pytest

from exports.services.grouped import expand_grouped_rows, group_adjacent_pairs, is_grouped_row
from exports.services.prompt_rendering import (
    CONTEXT_PLACEHOLDERS,
    DOCUMENT_PLACEHOLDERS,
    PromptRendering,
    template_problems,
)

pytestmark = pytest.mark.nodb

DOCS = [
    {"id": "kb-12", "title": "Account help", "text": "Reset it under Settings.", "source": "kb"},
    {"id": "kb-40", "title": "Billing", "text": "Invoices are under Billing.", "cited": True},
]
DEFAULT_BLOCK = (
    "Context documents:\n"
    "[1] Account help (id: kb-12)\nReset it under Settings.\n\n"
    "[2] Billing (id: kb-40)\nInvoices are under Billing."
)


def test_the_default_puts_numbered_documents_ahead_of_the_question():
    assert PromptRendering().prompt("How do I reset it?", DOCS) == (
        f"{DEFAULT_BLOCK}\n\nHow do I reset it?"
    )


def test_a_chat_prompt_is_flattened_after_the_documents():
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert (
        PromptRendering()
        .prompt(chat, DOCS[:1])
        .endswith("Reset it under Settings.\n\nuser: Hi\n\nassistant: Hello")
    )


def test_no_documents_or_context_none_leave_the_prompt_as_it_was():
    for rendering, documents in [(PromptRendering(), []), (PromptRendering(), None),
                                 (PromptRendering(context="none"), DOCS)]:  # fmt: skip
        assert rendering.prompt("Q?", documents) == "Q?"
        assert rendering.context_block(documents) == ""


def test_conversational_puts_the_documents_in_a_system_message():
    rendering = PromptRendering(form="conversational")
    assert rendering.prompt("Q?", DOCS) == [
        {"role": "system", "content": DEFAULT_BLOCK},
        {"role": "user", "content": "Q?"},
    ]
    assert rendering.response("A.") == [{"role": "assistant", "content": "A."}]
    assert rendering.prompt("Q?", []) == [{"role": "user", "content": "Q?"}]


def test_conversational_merges_into_the_conversations_own_system_message():
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]
    messages = PromptRendering(form="conversational").prompt(chat, DOCS)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == f"Be brief.\n\n{DEFAULT_BLOCK}"


def test_custom_templates_and_text_documents():
    rendering = PromptRendering(
        context_template="<docs>\n{documents}\n</docs> {{literal}}",
        document_template="({number}) {text} [{source}]",
    )
    assert rendering.prompt("Q?", [DOCS[0], "plain text"]) == (
        "<docs>\n(1) Reset it under Settings. [kb]\n\n(2) plain text []\n</docs> {literal}\n\nQ?"
    )


def test_a_document_with_braces_in_its_text_is_not_a_template():
    documents = [{"id": "{id}", "title": "{0}", "text": "{documents.__class__} {{x}}"}]
    block = PromptRendering(context_template="{documents}").context_block(documents)
    assert block == "[1] {0} (id: {id})\n{documents.__class__} {{x}}"


def test_grouped_is_standard_text():
    rendering = PromptRendering(form="grouped")
    assert rendering.prompt("Q?", DOCS) == f"{DEFAULT_BLOCK}\n\nQ?"
    assert rendering.response("A.") == "A."


def test_the_rendering_round_trips_through_its_record():
    rendering = PromptRendering(form="conversational", context="none", document_template="{id}")
    assert PromptRendering.from_dict(rendering.as_dict()) == rendering
    assert PromptRendering.from_dict({"form": "grouped", "unrelated": 1}) == PromptRendering(
        form="grouped"
    )
    assert set(rendering.as_dict()) == {"form", "context", "context_template", "document_template"}


@pytest.mark.parametrize(
    "template",
    ["{documents}", "Docs:\n{documents}\n", "{{ literal }} {documents}", "{documents}{documents}"],
)
def test_good_context_templates(template):
    assert template_problems(template, CONTEXT_PLACEHOLDERS, "documents") == []


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{docs}", "unknown placeholder {docs}"),
        ("{documents.__class__}", "unknown placeholder {documents.__class__}"),
        ("{documents[0]}", "unknown placeholder {documents[0]}"),
        ("{0}", "unknown placeholder {0}"),
        ("{}", "{} (positional)"),
        ("{documents!r}", "no format spec or conversion"),
        ("{documents:>10}", "no format spec or conversion"),
        ("{documents", "not a valid template"),
        ("documents}", "not a valid template"),
        ("Context only", "must contain {documents}"),
        ("{{documents}}", "must contain {documents}"),
        (None, "must be a string"),
        (["{documents}"], "must be a string"),
        ("{documents}" + "x" * 4000, "at most 4000 characters"),
    ],
)
def test_bad_context_templates_say_why(template, says):
    problems = template_problems(template, CONTEXT_PLACEHOLDERS, "documents")
    assert problems and says in problems[0]


def test_document_templates_take_the_document_placeholders_and_need_one():
    template = "{number}. {title} ({id}, {source})\n{text}"
    assert template_problems(template, DOCUMENT_PLACEHOLDERS, None) == []
    assert template_problems("[{id}]", DOCUMENT_PLACEHOLDERS, None) == []
    # Without a placeholder every document would be written as the same text.
    for empty in ("", "no placeholder", "{{text}}"):
        assert template_problems(empty, DOCUMENT_PLACEHOLDERS, None) == [
            "must contain at least one placeholder of {id}, {number}, {source}, {text}, {title}"
        ]
    problems = template_problems("{text} {author}", DOCUMENT_PLACEHOLDERS, None)
    assert problems == [
        "has an unknown placeholder {author}; allowed: {id}, {number}, {source}, {text}, {title}"
    ]


def test_expand_grouped_rows_gives_one_pair_per_rejected():
    grouped = {"prompt": "P", "chosen": "a", "rejected": ["b", "c"], "margin": [0.5, 1.0],
               "agreement": 0.8, "item_id": 7, "split": "train"}  # fmt: skip
    pairs = list(expand_grouped_rows([grouped]))
    assert pairs == [
        {**grouped, "rejected": "b", "margin": 0.5},
        {**grouped, "rejected": "c", "margin": 1.0},
    ]
    assert grouped["rejected"] == ["b", "c"], "the input row is left as it was"


def test_expand_grouped_rows_passes_other_forms_on():
    standard = {"prompt": "P", "chosen": "a", "rejected": "b", "margin": 0.0}
    chat = {"prompt": [{"role": "user", "content": "P"}],
            "chosen": [{"role": "assistant", "content": "a"}],
            "rejected": [{"role": "assistant", "content": "b"}], "margin": 0.0}  # fmt: skip
    assert list(expand_grouped_rows([standard, chat])) == [standard, chat]
    assert not is_grouped_row(chat) and is_grouped_row({"rejected": []})
    short = {"prompt": "P", "chosen": "a", "rejected": ["b", "c"], "margin": [0.25]}
    assert [p["margin"] for p in expand_grouped_rows([short])] == [0.25, 0.0]
    assert list(expand_grouped_rows([{"prompt": "P", "chosen": "a", "rejected": []}])) == []


def test_group_adjacent_pairs_merges_runs_of_one_key():
    pairs = [
        {"event_id": "e1", "chosen": "x", "rejected": "r1", "margin": 0.0},
        {"event_id": "e1", "chosen": "x", "rejected": "r2", "margin": 0.0},
        {"event_id": "e1", "chosen": "y", "rejected": "r1", "margin": 0.0},
        {"event_id": "e2", "chosen": "x", "rejected": "r3", "margin": 0.0},
    ]
    grouped = list(group_adjacent_pairs(pairs, key=lambda r: (r["event_id"], r["chosen"])))
    assert [(g["event_id"], g["chosen"], g["rejected"]) for g in grouped] == [
        ("e1", "x", ["r1", "r2"]), ("e1", "y", ["r1"]), ("e2", "x", ["r3"]),
    ]  # fmt: skip
    assert grouped[0]["margin"] == [0.0, 0.0]
    assert list(expand_grouped_rows(grouped)) == pairs
    assert list(group_adjacent_pairs([], key=lambda r: r)) == []
