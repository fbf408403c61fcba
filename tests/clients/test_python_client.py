"""The Python client (clients/python) against a live Concord server and a real worker: a lead's
script sets a sprint up, imports, three annotators label over the API, then agreement,
consensus, an export downloaded with its SHA-256 checked and loaded as a datasets.Dataset, a
reward model trained on the worker, promoted and asked for scores. Refusals come back as
ConcordAPIError in the server's one error shape."""

import random
import time

import pytest
from concord_client import ChecksumMismatch, Concord, ConcordAPIError
from django.db import connections

from annotation.admin.leads import ensure_leads_group
from annotation.models import Sprint, SprintMember, SprintRole

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GOOD = ["The refund goes back to the card used, within 5 business days.",
        "Reset the password from Settings, then Security, then Reset.",
        "Invoices are under Billing, one PDF per month.",
        "Two-factor codes come by SMS or from an authenticator app."]  # fmt: skip
BAD = ["Refunds are impossible, never ask again.",
       "Passwords cannot be changed by anyone.",
       "We do not keep invoices at all.",
       "Two-factor is a marketing term."]  # fmt: skip


def items(count: int) -> list[dict]:
    rng = random.Random(7)
    rows = []
    for n in range(count):
        good, bad = GOOD[n % 4], BAD[n % 4]
        responses = [{"id": "a", "text": good}, {"id": "b", "text": bad}]
        rng.shuffle(responses)
        rows.append(
            {"external_id": f"q-{n}", "prompt": f"Customer question {n}", "responses": responses}
        )
    return rows


@pytest.fixture
def opened():
    """Clients to close after the test: a kept-alive HTTP connection keeps its live-server
    thread, and that thread's database connection, open; PostgreSQL then refuses to drop the
    test database."""
    clients: list[Concord] = []
    yield clients
    for client in clients:
        client.close()
    # The server's handler thread notices the closed socket, then closes its connection.
    time.sleep(0.5)
    connections.close_all()


@pytest.fixture
def people(make_user, rubric):
    """A lead (the Leads group) and three annotators already in a sprint the lead runs, as a
    team that has worked together before."""
    lead = make_user("script-lead", is_staff=True)
    lead.groups.add(ensure_leads_group())
    earlier = Sprint.objects.create(name="Earlier", slug="earlier", rubric=rubric)
    SprintMember.objects.create(sprint=earlier, user=lead, role=SprintRole.LEAD)
    annotators = [make_user(f"labeler-{n}") for n in range(3)]
    for user in annotators:
        SprintMember.objects.create(sprint=earlier, user=user)
    return lead, annotators


def test_a_whole_sprint_from_a_script(live_server, celery_worker_process, people, tmp_path, opened):
    _, annotators = people
    concord = Concord.login(live_server.url, "script-lead", "pw-script-lead")
    opened.append(concord)

    rubric = concord.create_rubric(
        "Support answers (client)",
        [{"name": "preference", "kind": "preference", "question": "Which response is better?"}],
    )
    assert rubric["version"] == 1
    with pytest.raises(ConcordAPIError) as refused:
        concord.create_rubric(
            "Broken", [{"name": "x", "kind": "likert", "question": "?", "config": {"lables": {}}}]
        )
    assert refused.value.status == 400
    assert {e["field"] for e in refused.value.errors} >= {"criteria[0].config", "criteria"}

    sprint = concord.create_sprint(
        "Client sprint", "client-sprint", rubric["id"], overlap_k=3, status="active"
    )
    assert sprint["role"] == "lead"
    for user in annotators:
        concord.add_member(sprint["id"], user.pk)
    assert len(concord.members(sprint["id"])) == 4
    imported = concord.import_items(sprint["id"], items(16))
    assert imported["created"] == 16, imported

    for n, user in enumerate(annotators):
        labeler = Concord.login(live_server.url, user.username, f"pw-{user.username}")
        opened.append(labeler)
        labelled = 0
        while (served := labeler.next_item(sprint["id"])) is not None:
            texts = {r["id"]: r["text"] for r in served["item"]["responses"]}
            best = min(texts, key=lambda key: texts[key] in BAD)
            ranking = [best, *(key for key in texts if key != best)]
            if n == 2 and labelled == 0:
                ranking.reverse()  # one honest disagreement
            labeler.submit(served["assignment"], {"preference": {"ranking": ranking}}, seconds=3)
            labelled += 1
        assert labelled == 16

    counts = concord.recompute_consensus(sprint["id"])
    assert counts["labelled"] == 16
    assert len(concord.consensus(sprint["id"])) == 16
    report = concord.agreement(sprint["id"])
    assert report["criteria"], report

    export = concord.wait_for_export(concord.start_export([sprint["id"]])["id"], timeout=180)
    assert export["rows"] == 16
    path = concord.download_export(export["id"], tmp_path / "pairs.jsonl")
    assert path.stat().st_size > 0
    dataset = concord.load_dataset(export["id"], tmp_path)
    assert dataset.num_rows == 16 and {"prompt", "chosen", "rejected"} <= set(dataset.column_names)
    assert all(row["chosen"] in GOOD for row in dataset)

    run = concord.train(export["id"], epochs=1, batch_size=8, max_length=64, device="cpu")
    done = concord.wait_for_run(run["id"], timeout=300)
    model = done["model_version"]
    concord.promote(model, "production")
    assert [m["stage"] for m in concord.models() if m["id"] == model] == ["production"]
    scores = concord.score(model, "Customer question 1", [GOOD[1], BAD[1]])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    questions = [{"prompt": "Customer question 1", "responses": [GOOD[1], BAD[1]]},
                 {"prompt": "Customer question 2", "responses": [GOOD[2]]}]  # fmt: skip
    batch = concord.score_items(model, questions, purpose="evaluation")
    assert [len(scores_of_item) for scores_of_item in batch] == [2, 1]
    assert batch[0] == pytest.approx(scores, abs=1e-5)


@pytest.mark.usefixtures("people")
def test_a_tampered_download_is_refused(live_server, tmp_path, monkeypatch, opened):
    concord = Concord.login(live_server.url, "script-lead", "pw-script-lead")
    opened.append(concord)
    monkeypatch.setattr(Concord, "export", lambda self, export: {"sha256": "0" * 64})
    monkeypatch.setattr(concord.session, "get", lambda *a, **k: _FakeStream(b'{"prompt": "x"}\n'))
    with pytest.raises(ChecksumMismatch):
        concord.download_export(1, tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.usefixtures("people")
def test_refusals_carry_the_servers_error_shape(live_server, opened):
    with pytest.raises(ConcordAPIError) as wrong:
        Concord.login(live_server.url, "script-lead", "not-the-password")
    assert wrong.value.status == 400 and wrong.value.errors
    concord = Concord.login(live_server.url, "script-lead", "pw-script-lead")
    opened.append(concord)
    with pytest.raises(ConcordAPIError) as missing:
        concord.sprint(999_999)
    assert missing.value.status == 404 and missing.value.detail


class _FakeStream:
    status_code = 200

    def __init__(self, content: bytes) -> None:
        self.content = content

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def iter_content(self, chunk_size: int):
        yield self.content
