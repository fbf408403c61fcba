"""Train/score parity: a training row scored through ``POST /api/v1/models/{id}/score`` (the
item's prompt, context documents and responses, as a client holds them) equals the trainer's
own score of the exported row (``encode_responses`` on the row's ``prompt`` and ``chosen``, as
the trainer encodes it), for a RAG sprint exported in the standard, conversational (with a
tokenizer chat template) and grouped forms and trained through the real run path.

The score endpoint used to hand the item's raw prompt to the tokenizer step, so a chat prompt
was written as ``role: content`` lines with an ``assistant:`` line for the response, the
documents left out; each case checks that this old path scores differently, so the test can
fail."""

from pathlib import Path

import pytest

from annotation.models import Item
from tests.exports.export_fixtures import export, jsonl, labelled_item
from training.models import ModelStage, RunStatus
from training.services.reward_model import encode_responses, score_encodings
from training.services.runs import execute_training_run, start_training_run
from training.services.scoring import artifacts_path, clear_scorer_cache
from training.services.trainer import DEFAULT_BASE_MODEL, RewardScorer

pytestmark = pytest.mark.django_db

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|> {{ message['content'] }}\n{% endfor %}"
)
RUN_OPTIONS = {"epochs": 1, "batch_size": 4, "max_length": 160, "device": "cpu", "seed": 3}
TOLERANCE = 1e-5


def save_tiny_bert(directory: Path, chat_template: str | None) -> Path:
    """A one-layer BERT with the packaged MiniLM's tokenizer (random weights: seconds to train;
    drawn wide, so that its scores move with every token), with ``chat_template`` set on the
    tokenizer when given."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_BASE_MODEL, local_files_only=True)
    tokenizer.chat_template = chat_template
    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=256, num_labels=1,
        pad_token_id=tokenizer.pad_token_id, initializer_range=0.5,
    ))  # fmt: skip
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture
def base_models(settings, tmp_path) -> dict[str, str]:
    settings.CONCORD_BASE_MODEL_ROOTS = [str(tmp_path)]
    return {
        "plain": str(save_tiny_bert(tmp_path / "plain", None)),
        "chat": str(save_tiny_bert(tmp_path / "chat", CHAT_TEMPLATE)),
    }


@pytest.fixture(autouse=True)
def empty_cache():
    clear_scorer_cache()
    yield
    clear_scorer_cache()


def rag_sprint(sprint) -> list[Item]:
    """Twelve labelled items: chat prompts (some with a system message, some two turns), each
    with two context documents, the grounded answer ranked first."""
    items = []
    for n in range(12):
        prompt = [{"role": "user", "content": f"What does policy {n} say about refunds?"}]
        if n % 3 == 0:
            prompt = [{"role": "system", "content": "Answer from the documents."}, *prompt]
        if n % 4 == 1:
            greeting = [{"role": "user", "content": "Hi."},
                        {"role": "assistant", "content": "Hello, how can I help?"}]  # fmt: skip
            prompt = [*greeting, *prompt]
        texts = {"a": f"Policy {n} allows refunds within {n + 10} days [1].",
                 "b": f"Refunds are never possible for policy {n}."}  # fmt: skip
        item = labelled_item(sprint, n, texts=texts, prompt=prompt)
        item.context = [
            {"id": f"kb-{n}", "title": f"Policy {n}", "text": f"Refunds within {n + 10} days."},
            {"id": f"faq-{n}", "text": "Shipping takes a week.", "source": "https://x.test/faq"},
        ]
        item.save(update_fields=["context"])
        items.append(item)
    return items


def text_of(response) -> str:
    return response if isinstance(response, str) else response[-1]["content"]


CASES = [("standard", "plain"), ("conversational", "chat"), ("grouped", "plain")]


@pytest.mark.parametrize(("form", "base"), CASES)
def test_a_training_row_scores_through_the_api_as_in_the_trainer(
    form, base, base_models, lead, sprint, api_client_for
):
    items = {item.pk: item for item in rag_sprint(sprint)}
    dataset = export(lead, sprint, form=form, test_fraction=0.25, seed=1)
    rows = jsonl(dataset)
    run = start_training_run(
        dataset, actor=lead, base_model=base_models[base], options=RUN_OPTIONS, enqueue=False
    )
    run = execute_training_run(run.pk)
    assert run.status == RunStatus.DONE, run.error
    model = run.model_version
    # The version records the rendering its rows were written with, and the chat template.
    rendering = model.rendering
    assert rendering["form"] == form
    assert rendering["chat_template"] == (CHAT_TEMPLATE if base == "chat" else None)
    if "rendering" in dataset.manifest:
        assert {**dataset.manifest["rendering"], "chat_template": rendering["chat_template"]} == (
            rendering
        )
    assert run.config["rendering"] == rendering
    client = api_client_for(lead)
    # Scored as a candidate, for evaluation by its lead; then as production, for serving.
    for stage, purpose in ((None, "evaluation"), (ModelStage.PRODUCTION, "serving")):
        if stage is not None:
            model.stage = stage
            model.save(update_fields=["stage"])
        trainer = RewardScorer.load(artifacts_path(model), device="cpu")
        compared = 0
        for row in rows:
            item = items[row["item_id"]]
            chosen = text_of(row["chosen"])
            rejected = row["rejected"] if form == "grouped" else [row["rejected"]]
            answers = [row["chosen"], *rejected]
            body = {"prompt": item.prompt, "context": item.context,
                    "responses": [text_of(r) for r in answers], "purpose": purpose}  # fmt: skip
            answer = client.post(f"/api/v1/models/{model.pk}/score", body, format="json")
            assert answer.status_code == 200, answer.json()
            # The trainer's own scores of the exported row (chosen and every rejected),
            # encoded exactly as it trains.
            encodings = encode_responses(
                trainer.tokenizer, [row["prompt"]] * len(answers), answers, trainer.max_length
            )
            own_scores = score_encodings(
                trainer.model, encodings, trainer.tokenizer.pad_token_id, device=trainer.device
            )
            assert answer.json()["scores"] == pytest.approx(own_scores, abs=TOLERANCE), (
                form, row["item_id"]
            )  # fmt: skip
            own = own_scores[0]
            # The old path (the raw item prompt, no documents) scores something else: a chat
            # prompt in the standard form, or the documents in any form.
            if form != "conversational" or rendering["context"] == "prompt":
                [old] = trainer.score(item.prompt, [chosen])
                assert abs(old - own) > 1e-3, "the old rendering must differ"
            compared += 1
        assert compared == len(rows) >= 12


def test_a_dataset_without_a_recorded_rendering_reads_as_it_was_written(make_dataset, sprint):
    """An export made before renderings existed: its filters' form, the context left out."""
    from training.services.model_rendering import dataset_rendering

    legacy = make_dataset([sprint], filters={"form": "conversational"})
    assert dataset_rendering(legacy)["form"] == "conversational"
    assert dataset_rendering(legacy)["context"] == "none"
    recorded = make_dataset([sprint], manifest={"rendering": {"form": "grouped"}})
    assert dataset_rendering(recorded)["context"] == "prompt"


def test_a_grouped_file_is_read_as_one_pair_per_rejected_response(make_dataset, sprint):
    from training.services.datasets import read_preference_rows

    grouped = {"prompt": "Q?", "chosen": "best", "rejected": ["good", "bad"], "margin": [1.0, 2.0],
               "agreement": 1.0, "item_id": 7, "split": "train"}  # fmt: skip
    pair = {"prompt": "R?", "chosen": "yes", "rejected": "no", "margin": None, "item_id": 8}
    rows = read_preference_rows(make_dataset([sprint], [grouped, pair]))
    assert [(r["prompt"], r["chosen"], r["rejected"], r["margin"]) for r in rows] == [
        ("Q?", "best", "good", 1.0), ("Q?", "best", "bad", 2.0), ("R?", "yes", "no", None)
    ]  # fmt: skip
    assert {r["item_id"] for r in rows[:2]} == {7}
