"""A RAG sprint for the rendering tests: labelled items whose prompts come with retrieved
documents, some with chat prompts, some ranking three responses, and one without documents."""

import csv
import io

import orjson
import pyarrow.parquet as pq

from tests.exports.export_fixtures import labelled_item

ACCOUNT = {"id": "kb-12", "title": "Account help", "text": "Reset it under Settings, Security.",
           "source": "kb"}  # fmt: skip
BILLING = {"id": "kb-40", "title": "Billing", "text": "Invoices are under Billing."}
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"}]  # fmt: skip
DEFAULT_BLOCK = (
    "Context documents:\n"
    "[1] Account help (id: kb-12)\nReset it under Settings, Security.\n\n"
    "[2] Billing (id: kb-40)\nInvoices are under Billing."
)


def question(n: int) -> str:
    return f"How do I reset my password ({n})?"


def rag_items(sprint, count: int = 4) -> list:
    """``count`` items: n % 4 == 0 a text prompt with both documents and three responses
    ranked a > b > c; 1 a chat prompt (with its own system message) and both documents; 2 a
    text prompt with one document; 3 a text prompt without documents."""
    items = []
    for n in range(count):
        texts = {"a": f"Settings, then Security ({n}).", "b": "Try Billing.", "c": "No idea."}
        if n % 4 == 0:
            items.append(
                labelled_item(
                    sprint,
                    n,
                    ranking=("a", "b", "c"),
                    texts=texts,
                    prompt=question(n),
                    context=[ACCOUNT, BILLING],
                )
            )
        elif n % 4 == 1:
            chat = [*CHAT, {"role": "user", "content": question(n)}]
            items.append(
                labelled_item(sprint, n, texts=texts, prompt=chat, context=[ACCOUNT, BILLING])
            )
        elif n % 4 == 2:
            items.append(
                labelled_item(sprint, n, texts=texts, prompt=question(n), context=[BILLING])
            )
        else:
            items.append(labelled_item(sprint, n, texts=texts, prompt=question(n)))
    return items  # fmt: skip


def export_over_api(client, capture, body: dict) -> tuple[dict, list]:
    """POST ``body`` to /api/v1/exports, let the export task build it on commit (``capture``:
    pytest-django's django_capture_on_commit_callbacks, with eager Celery), and return the
    finished export's detail and the rows of its downloaded file."""
    with capture(execute=True):
        response = client.post("/api/v1/exports", body, format="json")
    assert response.status_code == 202, response.json()
    detail = client.get(f"/api/v1/exports/{response.json()['id']}").json()
    assert detail["status"] == "done", detail["error"]
    data = b"".join(client.get(detail["download"]).streaming_content)
    if body.get("format") == "parquet":
        return detail, pq.read_table(io.BytesIO(data)).to_pylist()
    if body.get("format") == "csv":
        return detail, list(csv.DictReader(io.StringIO(data.decode())))
    return detail, [orjson.loads(line) for line in data.splitlines()]
