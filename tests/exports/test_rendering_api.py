"""A RAG sprint exported through the REST API: the context documents are in every form's prompt
by default (numbered, with ids and titles, ahead of the question; in a system message in the
conversational form), ``context: none`` leaves them out, a custom template is applied and
recorded in the manifest's ``rendering``, the grouped form has one row per item, and a bad
template or context value is a 400 naming the filter, with nothing stored."""

import orjson
import pytest

from exports.models import DatasetVersion
from exports.services.grouped import expand_grouped_rows
from exports.services.prompt_rendering import DEFAULT_CONTEXT_TEMPLATE, DEFAULT_DOCUMENT_TEMPLATE
from tests.exports.rag_fixtures import CHAT, DEFAULT_BLOCK, export_over_api, question, rag_items

pytestmark = pytest.mark.django_db

DEFAULT_RENDERING = {
    "context": "prompt",
    "context_template": DEFAULT_CONTEXT_TEMPLATE,
    "document_template": DEFAULT_DOCUMENT_TEMPLATE,
}


@pytest.fixture
def via_api(lead, sprint, api_client_for, eager_celery, django_capture_on_commit_callbacks):
    """Start an export of the RAG sprint over the API, let it build, and return the export's
    detail and the rows of the downloaded file."""
    rag_items(sprint)
    client = api_client_for(lead)

    def run(fmt="jsonl", kind="preference", **filters):
        body = {"sprints": [sprint.pk], "kind": kind, "format": fmt, "filters": filters}
        return export_over_api(client, django_capture_on_commit_callbacks, body)

    return run


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("form", ["standard", "grouped"])
def test_text_forms_put_the_documents_ahead_of_the_question(via_api, form, fmt):
    detail, rows = via_api(fmt, form=form)
    first = rows[0]
    assert first["prompt"] == f"{DEFAULT_BLOCK}\n\n{question(0)}"
    chat = next(row for row in rows if question(1) in row["prompt"])
    assert chat["prompt"] == (
        f"{DEFAULT_BLOCK}\n\nsystem: Be brief.\n\nuser: Hi\n\nassistant: Hello!\n\n"
        f"user: {question(1)}"
    )
    one_document = next(row for row in rows if question(2) in row["prompt"])
    assert one_document["prompt"].startswith("Context documents:\n[1] Billing (id: kb-40)\n")
    assert next(row["prompt"] for row in rows if question(3) in row["prompt"]) == question(3)
    assert detail["manifest"]["rendering"] == {"form": form, **DEFAULT_RENDERING}
    assert detail["filters"]["context"] == "prompt", "stored with the default filled in"


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_conversational_puts_the_documents_in_a_system_message(via_api, fmt):
    detail, rows = via_api(fmt, form="conversational")
    assert rows[0]["prompt"] == [
        {"role": "system", "content": DEFAULT_BLOCK},
        {"role": "user", "content": question(0)},
    ]
    assert rows[0]["chosen"] == [{"role": "assistant", "content": "Settings, then Security (0)."}]
    chat = next(row for row in rows if row["prompt"][-1]["content"] == question(1))
    assert chat["prompt"][0] == {"role": "system", "content": f"Be brief.\n\n{DEFAULT_BLOCK}"}
    assert chat["prompt"][1:] == [*CHAT[1:], {"role": "user", "content": question(1)}]
    bare = next(row for row in rows if row["prompt"][-1]["content"] == question(3))
    assert bare["prompt"] == [{"role": "user", "content": question(3)}]
    assert detail["manifest"]["rendering"] == {"form": "conversational", **DEFAULT_RENDERING}


@pytest.mark.parametrize("form", ["standard", "conversational", "grouped"])
def test_context_none_leaves_the_documents_out(via_api, form):
    detail, rows = via_api(form=form, context="none")
    prompts = [row["prompt"] if form != "conversational" else row["prompt"][-1]["content"]
               for row in rows]  # fmt: skip
    assert not any("Context documents" in str(row["prompt"]) for row in rows)
    assert question(0) in prompts and question(2) in prompts
    assert detail["manifest"]["rendering"]["context"] == "none"


def test_a_custom_template_is_applied_and_recorded(via_api):
    templates = {
        "context_template": "<documents>\n{documents}\n</documents>",
        "document_template": "<doc n={number} id={id} source={source}>{title}: {text}</doc>",
    }
    detail, rows = via_api("parquet", **templates)
    assert rows[0]["prompt"] == (
        "<documents>\n<doc n=1 id=kb-12 source=kb>Account help: Reset it under Settings, "
        "Security.</doc>\n\n<doc n=2 id=kb-40 source=>Billing: Invoices are under "
        f"Billing.</doc>\n</documents>\n\n{question(0)}"
    )
    rendering = detail["manifest"]["rendering"]
    assert rendering == {"form": "standard", "context": "prompt", **templates}
    assert detail["filters"]["document_template"] == templates["document_template"]


def test_the_split_does_not_move_with_the_rendering(via_api):
    _, with_documents = via_api(test_fraction=0.5, seed=3)
    _, without = via_api(test_fraction=0.5, seed=3, context="none")
    assert {r["item_id"]: r["split"] for r in with_documents} == {
        r["item_id"]: r["split"] for r in without
    }


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_grouped_has_one_row_per_item_with_every_lower_ranked_response(via_api, fmt):
    detail, grouped = via_api(fmt, form="grouped")
    _, pairs = via_api(fmt)
    assert len(grouped) == 4 and len(pairs) == 6  # three responses give three pairs
    top = grouped[0]
    assert top["chosen"] == "Settings, then Security (0)."
    assert top["rejected"] == ["Try Billing.", "No idea."]
    assert top["margin"] == pytest.approx([1 / 3, 2 / 3])  # strength 2 of 3; rank gaps 1, 2
    assert grouped[1]["rejected"] == ["Try Billing."]
    assert grouped[1]["margin"] == pytest.approx([2 / 3])
    assert detail["manifest"]["columns"] == list(top)
    assert detail["rows"] == 4 and detail["manifest"]["counts"]["items_kept"] == 4
    # Expanded, the grouped rows are the pairs whose chosen is an item's best response.
    best = [
        p for p in pairs if not (p["item_id"] == top["item_id"] and p["chosen"] != top["chosen"])
    ]
    assert list(expand_grouped_rows(grouped)) == best


def test_grouped_csv_writes_each_list_as_one_json_cell(via_api):
    _, rows = via_api("csv", form="grouped", context="none")
    assert orjson.loads(rows[0]["rejected"]) == ["Try Billing.", "No idea."]
    assert orjson.loads(rows[0]["margin"]) == pytest.approx([1 / 3, 2 / 3])
    assert len(rows) == 4


def test_a_list_cell_cannot_run_as_a_formula():
    from exports.services.writers import defuse_cell

    assert defuse_cell(["=HYPERLINK(1)", "b"]) == '["=HYPERLINK(1)","b"]'
    assert defuse_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"


def test_the_consensus_export_is_not_rendered(via_api):
    detail, rows = via_api(kind="consensus")
    assert rows[0]["prompt"] == question(0)
    assert [document["id"] for document in rows[0]["context"]] == ["kb-12", "kb-40"]
    assert "rendering" not in detail["manifest"]


BAD_FILTERS = [
    ({"context_template": "{docs}"}, "filters.context_template", "unknown placeholder {docs}"),
    ({"context_template": "Just text"}, "filters.context_template", "must contain {documents}"),
    ({"context_template": "{documents"}, "filters.context_template", "not a valid template"),
    ({"document_template": "{documents.__class__}"}, "filters.document_template", "unknown"),
    ({"document_template": "{text.__init__.__globals__}"}, "filters.document_template",
     "unknown placeholder"),
    ({"document_template": "{0}"}, "filters.document_template", "unknown placeholder {0}"),
    ({"document_template": "{}"}, "filters.document_template", "positional"),
    ({"document_template": "{text!r}"}, "filters.document_template", "conversion"),
    ({"document_template": 7}, "filters.document_template", "must be a string"),
    ({"document_template": ""}, "filters.document_template", "at least one placeholder"),
    ({"context": "inline"}, "filters.context", "must be one of ['prompt', 'none']"),
    ({"context": True}, "filters.context", "must be one of"),
    ({"form": "nested"}, "filters.form", "grouped"),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "field", "message"), BAD_FILTERS)
def test_bad_rendering_filters_are_a_400_naming_the_filter(
    lead, sprint, api_client_for, filters, field, message
):
    before = DatasetVersion.objects.count()
    body = {"sprints": [sprint.pk], "filters": filters}
    response = api_client_for(lead).post("/api/v1/exports", body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert message in errors[0]["message"]
    assert DatasetVersion.objects.count() == before, "nothing stored"


@pytest.mark.parametrize(
    ("kind", "filters", "field"),
    [
        ("consensus", {"context": "none"}, "filters.context"),
        ("consensus", {"document_template": "{text}"}, "filters.document_template"),
        ("consensus", {"context_template": "{documents}"}, "filters.context_template"),
        ("consensus", {"form": "grouped"}, "filters.form"),
        ("judgments", {"context": "none"}, "filters.context"),
        ("judgments", {"form": "grouped"}, "filters.form"),
    ],
)
def test_consensus_and_judgments_exports_refuse_the_rendering(
    lead, sprint, api_client_for, kind, filters, field
):
    body = {"sprints": [sprint.pk], "kind": kind, "filters": filters}
    response = api_client_for(lead).post("/api/v1/exports", body, format="json")
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not DatasetVersion.objects.exists()


def test_the_api_docs_describe_the_rendering_filters(lead, api_client_for):
    schema = api_client_for(lead).get("/api/schema/", {"format": "json"}).json()
    filters = schema["components"]["schemas"]["ExportFiltersRequest"]["properties"]
    assert "grouped" in str(filters["form"]) and "rejected" in filters["form"]["description"]
    assert "{documents}" in filters["context_template"]["description"]
    assert "{title}" in filters["document_template"]["description"]
    assert filters["document_template"]["default"] == DEFAULT_DOCUMENT_TEMPLATE
    assert "ahead of the question" in filters["context"]["description"]


@pytest.mark.parametrize("items", [0, 4])
def test_the_grouped_parquet_schema_has_list_columns(lead, sprint, items):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from exports.services.files import final_path
    from tests.exports.export_fixtures import export

    rag_items(sprint, items)
    dataset = export(lead, sprint, fmt="parquet", form="grouped")
    schema = pq.read_schema(final_path(dataset))
    assert schema.field("rejected").type == pa.list_(pa.string())
    assert schema.field("margin").type == pa.list_(pa.float64())
    assert schema.field("prompt").type == pa.string() and dataset.rows == items
