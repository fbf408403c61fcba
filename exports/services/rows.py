"""The rows of the ``preference`` and ``consensus`` exports, built from labelled items.

Decisions a user of the file should know:

- ``preference`` has one row per (chosen, rejected) pair that the consensus ranking implies:
  for N responses ranked best first, every response is preferred to each one below it, so N
  responses give N(N-1)/2 pairs, in ranking order. Ties give no pair (counted as ``tie``).
- ``margin`` = (strength / L) x (rank gap / (N - 1)), where L is the length of the rubric's
  strength scale (strengths run 1..L, weakest first) and the rank gap is how many places apart
  the two responses are. For two responses this is simply strength / L: "slightly" of three is
  0.333, "much" is 1.0. With no strength (a rubric without a scale, or a label without one) the
  margin is 0.0, which is TRL's plain Bradley-Terry loss. So margins lie in [0, 1] and stay on
  the scale of the reward model's logits.
- ``split`` is ``train`` or ``test`` by a seeded hash of the prompt text, so that one prompt,
  asked in several items, never lands on both sides; ``test_fraction`` 0 puts every row in train.
  It hashes the prompt as the item has it, without documents, so a change of template or
  context never moves a prompt between train and test.
- ``prompt`` is written by the export's :class:`PromptRendering`
  (exports.services.prompt_rendering), built from the filters ``form``, ``context``,
  ``context_template`` and ``document_template`` and recorded in the manifest's ``rendering``.
  By default (``context: "prompt"``) an item's context documents go into the prompt, numbered,
  with their ids and titles, ahead of the question; ``context: "none"`` leaves them out (the
  ``consensus`` export has them in its own column). The standard form's ``prompt`` is text (a
  chat prompt flattened to ``role: content`` paragraphs); the conversational form keeps chat
  messages, the documents in a system message, and ``chosen`` and ``rejected`` are one
  assistant message each: TRL's conversational preference format.
- The ``grouped`` form has one row per item instead of one per pair: ``chosen`` the best
  response, ``rejected`` the list of every lower-ranked one (best first) and ``margin`` the list
  of their margins, aligned (exports.services.grouped, which also expands it back to pairs).
"""

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from exports.services.labels import ExportCounts, LabelChunk, labelled_items
from exports.services.prompt_rendering import PromptRendering, prompt_messages, prompt_text

Row = dict[str, Any]

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected", "margin", "agreement", "item_id", "split")
CONSENSUS_COLUMNS = (
    "item_id", "external_id", "sprint_id", "prompt", "context", "responses", "ranking", "tie",
    "method", "confidence", "agreement", "strength", "scores", "judgments", "split",
)  # fmt: skip


def split_of(prompt_text: str, test_fraction: float, seed: int) -> str:
    """Train or test from a seeded hash of the prompt: the same prompt always lands on the same
    side, and a new seed draws a new split."""
    if test_fraction <= 0:
        return "train"
    digest = hashlib.sha256(f"{seed}\x00{prompt_text}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else "train"


def export_rendering(filters: dict[str, Any]) -> PromptRendering:
    """The rendering of an export's rows, from its stored filters. An export stored before
    renderings existed has no ``context`` filter and rendered no documents: ``none``."""
    return PromptRendering.from_dict({"context": "none", **filters})


def preference_rows(
    chunks: Iterable[LabelChunk],
    filters: dict[str, Any],
    counts: ExportCounts,
    *,
    strength_scale: dict[int, int],
    flags: frozenset[str] = frozenset(),
    provenance: dict[int, Row] | None = None,
) -> Iterator[Row]:
    """One row per (chosen, rejected) pair, in item-id order, then ranking order (the grouped
    form: one row per item), the prompt written by the filters' rendering.
    ``strength_scale``: sprint id → length of its rubric's strength scale (0: none).
    ``provenance``: sprint id → columns added to each of its rows, in an export that holds
    production pairs too (exports.services.production_rows)."""
    rendering = export_rendering(filters)
    grouped, conversational = rendering.form == "grouped", rendering.conversational
    with_context = rendering.context == "prompt"
    test_fraction, seed = filters["test_fraction"], filters["seed"]
    splits: dict[str, int] = {"train": 0, "test": 0}
    for chunk in chunks:
        for item in labelled_items(chunk, filters, counts, flags=flags, context=with_context):
            ranking, n = item.ranking, len(item.ranking)
            try:
                ranked = [item.responses[key] for key in ranking]
            except KeyError:
                ranked = []
            if n < 2 or not ranked:
                counts.items_dropped["incomplete_ranking"] += 1
                continue
            counts.items_kept += 1
            text = item.prompt if type(item.prompt) is str else prompt_text(item.prompt)
            split = split_of(text, test_fraction, seed) if test_fraction > 0 else "train"
            prompt = rendering.prompt(item.prompt if conversational else text, item.context)
            if conversational:
                ranked = [rendering.response(r) for r in ranked]
            extra = provenance[item.sprint_id] if provenance is not None else {}
            scale = strength_scale.get(item.sprint_id, 0)
            strength = item.strength / scale if scale and item.strength is not None else 0.0
            if grouped:
                yield {
                    "prompt": prompt,
                    "chosen": ranked[0],
                    "rejected": ranked[1:],
                    "margin": [strength * j / (n - 1) for j in range(1, n)],
                    "agreement": item.agreement,
                    "item_id": item.item_id,
                    "split": split,
                    **extra,
                }
                splits[split] += 1
                continue
            for i in range(n - 1):
                for j in range(i + 1, n):
                    yield {
                        "prompt": prompt,
                        "chosen": ranked[i],
                        "rejected": ranked[j],
                        "margin": strength * (j - i) / (n - 1),
                        "agreement": item.agreement,
                        "item_id": item.item_id,
                        "split": split,
                        **extra,
                    }
            splits[split] += n * (n - 1) // 2
    counts.rows += splits["train"] + splits["test"]
    counts.splits.update({side: rows for side, rows in splits.items() if rows})


def consensus_rows(
    chunks: Iterable[LabelChunk],
    filters: dict[str, Any],
    counts: ExportCounts,
    *,
    flags: frozenset[str] = frozenset(),
) -> Iterator[Row]:
    """One row per item: its responses, the full ranking, and the per-criterion consensus
    scores (``scores``: the label's answers, e.g. mean Likert score per response)."""
    conversational = filters["form"] == "conversational"
    for chunk in chunks:
        for item in labelled_items(chunk, filters, counts, flags=flags, full=True):
            counts.items_kept += 1
            counts.rows += 1
            text = prompt_text(item.prompt)
            split = split_of(text, filters["test_fraction"], filters["seed"])
            counts.splits[split] += 1
            yield {
                "item_id": item.item_id,
                "external_id": item.external_id,
                "sprint_id": item.sprint_id,
                "prompt": prompt_messages(item.prompt) if conversational else text,
                "context": item.context,
                "responses": item.responses,
                "ranking": item.ranking,
                "tie": item.tie,
                "method": item.method,
                "confidence": item.confidence,
                "agreement": item.agreement,
                "strength": item.strength,
                "scores": item.answers,
                "judgments": item.judgments,
                "split": split,
            }
