"""The held-out prompts of an evaluation: a dataset version's test split, or a given list.

Either way the result is the snapshot an evaluation stores, ``[{"prompt", "context"}]`` (a
prompt is text or chat messages, ``context`` the documents the model is shown), with at most
``CONCORD_EVALUATION_MAX_PROMPTS`` prompts, and where it came from (``prompt_source``).

- **A dataset.** Its rows are read as a training run reads them
  (:func:`~training.services.datasets.read_preference_rows`) and split the same way
  (:func:`~training.services.datasets.split_rows`); for the candidate's own dataset with the
  seed and holdout share its run split with, so the prompts are the ones its training never
  saw; for another dataset, test prompts whose item or prompt text is in the candidate's own
  training split are left out too (counted as ``excluded_trained``). One prompt per item, in
  file order: an item still in one of the dataset's sprints gives its own prompt and context
  documents (what annotators are shown, and what the policy's rendering writes into the
  prompt), any other row its prompt as exported. A test split larger than the limit is sampled
  down, seeded, and ``prompt_source`` says so.
- **A list** (the API's ``prompts``, the command's JSONL file). Each entry is checked by the
  import's own rules for a prompt and its documents (the evaluation sprint is made through the
  import service, so what passes here imports there); a bad entry is a 400 naming
  ``prompts[<i>].<field>``, and more prompts than the limit a 400 on ``prompts``.
"""

import random
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from annotation.models import Item
from annotation.services.errors import ConcordError
from annotation.services.imports.errors import RowError
from annotation.services.imports.records import parse_row
from exports.models import DatasetVersion
from training.models import PolicyVersion
from training.services.datasets import read_preference_rows, split_rows

Prompt = dict[str, Any]
# Two stand-in responses so a prompt can be checked by the import's row parser.
_PLACEHOLDER_RESPONSES = [{"id": "a", "text": "a"}, {"id": "b", "text": "b"}]


class PromptsInvalid(ConcordError):
    """The prompts cannot be evaluated on; each problem names its field."""


def given_prompts(values: Any) -> list[Prompt]:
    """The snapshot of a given list (see the module note); :class:`PromptsInvalid` lists every
    bad entry. An entry is ``{"prompt", "context"?}`` or, for a caller in Python, a prompt
    text (the REST API's schema takes the objects only)."""
    if not isinstance(values, list):
        raise PromptsInvalid("Must be a list of prompts.", field="prompts")
    if not values:
        raise PromptsInvalid("Give at least one prompt.", field="prompts")
    limit = settings.CONCORD_EVALUATION_MAX_PROMPTS
    if len(values) > limit:
        raise PromptsInvalid(
            f"{len(values)} prompts; at most {limit} (CONCORD_EVALUATION_MAX_PROMPTS).",
            field="prompts",
        )
    prompts, problems = [], []
    for index, value in enumerate(values):
        try:
            prompts.append(checked_prompt(value))
        except RowError as bad:
            where = f"prompts[{index}]" + (f".{bad.field}" if bad.field else "")
            problems.append({"field": where, "message": bad.message})
    if problems:
        raise PromptsInvalid(problems)
    return prompts


def checked_prompt(value: Any) -> Prompt:
    """One entry as ``{"prompt", "context"}``, or :class:`RowError` naming the field at fault
    (the import's rules for ``prompt`` and ``context``)."""
    if isinstance(value, str):
        value = {"prompt": value}
    if not isinstance(value, dict):
        raise RowError('must be an object such as {"prompt": "...", "context": [...]}', "")
    unknown = sorted(set(value) - {"prompt", "context"})
    if unknown:
        raise RowError(f"unknown field(s) {', '.join(map(repr, unknown))}", unknown[0])
    row = {
        "prompt": value.get("prompt"),
        "context": value.get("context") or [],
        "responses": _PLACEHOLDER_RESPONSES,
    }
    record = parse_row(row)
    return {"prompt": record.prompt, "context": record.context}


def dataset_prompts(
    dataset: DatasetVersion, candidate: PolicyVersion, *, seed: int
) -> tuple[list[Prompt], dict[str, Any]]:
    """The test split's prompts of ``dataset`` and their ``prompt_source`` (module note).
    Raises :class:`~training.services.datasets.DatasetUnusable` (a 400 on ``dataset``) for a
    dataset that cannot be read, and :class:`PromptsInvalid` when its test split is empty."""
    run = candidate.run
    run_seed = int((run.config or {}).get("seed", seed))
    run_share = (run.config or {}).get("holdout_share")
    own = dataset.pk == run.dataset_id
    split_seed, share = (run_seed, run_share) if own else (seed, None)
    splits = split_rows(read_preference_rows(dataset), seed=split_seed, holdout_share=share)
    trained: set[str] = set()
    if not own:  # another export, maybe of the same items: leave out what the candidate saw
        seen = split_rows(read_preference_rows(run.dataset), seed=run_seed, holdout_share=run_share)
        trained = {key for row in seen.train for key in _prompt_keys(row)}
    firsts: dict[str, dict[str, Any]] = {}
    excluded: set[str] = set()
    for row in splits.test:
        keys = _prompt_keys(row)
        if trained.intersection(keys):
            excluded.add(keys[0])
            continue
        firsts.setdefault(keys[0], row)
    rows = list(firsts.values())
    if not rows:
        why = f" the candidate was not trained on ({len(excluded)} left out)" if excluded else ""
        raise PromptsInvalid(f"Dataset {dataset.pk} has no test prompts{why}.", field="dataset")
    limit = settings.CONCORD_EVALUATION_MAX_PROMPTS
    source: dict[str, Any] = {
        "dataset": dataset.pk,
        "split": "test",
        "test_source": splits.test_source,
        "available": len(rows),
    }
    if excluded:
        source["excluded_trained"] = len(excluded)
    if len(rows) > limit:
        picked = sorted(random.Random(seed).sample(range(len(rows)), limit))
        rows = [rows[index] for index in picked]
        source["sampled"] = limit
    return _from_items(dataset, rows), source


def _prompt_keys(row: dict[str, Any]) -> list[str]:
    """The keys a row's prompt is known by: its item (first) and its prompt text."""
    keys = [f"item:{row['item_id']}"] if row.get("item_id") is not None else []
    return [*keys, f"prompt:{row['prompt']!r}"]


def _from_items(dataset: DatasetVersion, rows: Sequence[dict[str, Any]]) -> list[Prompt]:
    """Each row's item's own prompt and documents where the item is in the dataset's sprints,
    else the row's exported prompt without documents (they are written into it already)."""
    ids = {int(row["item_id"]) for row in rows if str(row.get("item_id", "")).isdigit()}
    items = {
        item.pk: item
        for item in Item.objects.filter(pk__in=ids, sprint__in=dataset.sprints.all()).only(
            "pk", "prompt", "context"
        )
    }
    prompts = []
    for row in rows:
        item_id = row.get("item_id")
        item = items.get(int(item_id)) if str(item_id).isdigit() else None
        if item is not None:
            prompts.append({"prompt": item.prompt, "context": item.context or []})
        else:
            prompts.append({"prompt": row["prompt"], "context": []})
    return prompts
