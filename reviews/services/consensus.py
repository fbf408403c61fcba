"""Consensus labels: the final answer of every judged item, from its live judgments.

Methods (``ConsensusLabel.method``) and what ``confidence`` means for each:

- ``unanimous``: two or more live judgments, all with the same preference.
- ``majority``: more than half of the live judgments share one preference.
- ``dawid_skene``: the class with the highest posterior under a Dawid-Skene model fitted to
  the whole sprint (crowd-kit), which learns each annotator's confusion matrix from all their
  judgments and from gold items, so a careless or adversarial annotator counts for less (or is
  read backwards).
- ``bradley_terry``: responses ordered by their Bradley-Terry strengths estimated from the
  pairwise comparisons the rankings imply (a tie is half a win each way).
- ``adjudicated``: a reviewer's resolution of a dispute (reviews.services.disputes). It
  overrides every other method and no recompute ever replaces it.

The ``auto`` policy (the default):

- Items of two responses: the Dawid-Skene posterior decides the label and gives the confidence.
  The method recorded says how much the votes alone already agreed with it: ``unanimous`` when
  two or more votes agree and the model agrees, ``majority`` when a strict majority of votes
  agrees with the model, otherwise ``dawid_skene`` (a split vote, or the model overruling a
  majority because the majority leaned on annotators it found unreliable).
- Items of more than two responses: Bradley-Terry decides the order and its confidence is the
  smallest probability that a response beats the one ranked just below it; the method is
  ``unanimous`` or ``majority`` when the votes' identical rankings say the same, otherwise
  ``bradley_terry``. When most votes are ties, the label is a tie.

So in ``auto`` the confidence always comes from the model (Dawid-Skene posterior, or the
weakest Bradley-Terry link), whatever the method name says. A caller may ask for one method
(``compute_consensus(sprint, method="majority")``): every item that method can decide gets its
label with that method's own confidence (vote share for unanimous and majority, the posterior
for Dawid-Skene, the weakest link for Bradley-Terry); items it cannot decide (no majority, not
unanimous) keep the label they had and are counted as ``undecided``.

Every label also records ``strength`` (the median strength of the votes whose best response is
the label's best; none for a tie), ``answers`` (per Likert criterion the mean score of each
response, per flag criterion the share of judgments that flagged each response), ``agreement``
(``reviews.services.agreement.item_agreement`` of the preference rankings) and the ids of the
live judgments it came from.

A sprint-wide computation (:func:`compute_consensus`) refits Dawid-Skene and stores the fit
(:class:`reviews.models.DawidSkeneFit`); when one judgment arrives,
:func:`refresh_item_consensus` relabels its item with that stored fit (an annotator it has not
seen counts as right ``DEFAULT_ACCURACY`` of the time), so the per-item path costs a few
queries and agrees with the last sweep.
"""

from collections import Counter, defaultdict
from statistics import median

import numpy as np
import pandas as pd
from django.utils import timezone

from annotation.models import GoldAnswer, Item, Sprint
from reviews.models import ConsensusLabel, ConsensusMethod, DawidSkeneFit
from reviews.services.agreement import item_agreement
from reviews.services.consensus_data import (
    ItemJudgments,
    RubricShape,
    gold_ranking,
    item_judgments,
)
from reviews.services.consensus_methods import (
    PAIR_CLASSES,
    TIE,
    DawidSkeneParams,
    bradley_terry,
    bradley_terry_ranking,
    class_ranking,
    fit_dawid_skene,
    strict_majority,
    vote_class,
    win_matrix,
)
from reviews.services.consensus_read import SprintVotes, read_sprint
from reviews.services.consensus_sprint import label_sprint
from reviews.services.consensus_store import upsert_labels

AUTO = "auto"
METHODS = (
    AUTO,
    ConsensusMethod.UNANIMOUS,
    ConsensusMethod.MAJORITY,
    ConsensusMethod.DAWID_SKENE,
    ConsensusMethod.BRADLEY_TERRY,
)


class UnknownMethod(ValueError):
    pass


def _label(ranking: list[str] | None, method: str, confidence: float) -> dict:
    return {
        "ranking": ranking or [],
        "tie": ranking is None,
        "method": str(method),
        "confidence": round(min(max(float(confidence), 0.0), 1.0), 6),
    }


def _bt_strengths(items: list[ItemJudgments]) -> dict[int, np.ndarray]:
    """Bradley-Terry strengths of each item's responses, solved together per item size."""
    by_size: dict[int, list[ItemJudgments]] = defaultdict(list)
    for item in items:
        by_size[len(item.keys)].append(item)
    strengths = {}
    for group in by_size.values():
        wins = np.stack(
            [win_matrix(item.keys, [vote.ranking for vote in item.votes]) for item in group]
        )
        for item, row in zip(group, bradley_terry(wins), strict=True):
            strengths[item.item_id] = row
    return strengths


def _decide(
    item: ItemJudgments,
    method: str,
    fits: dict[int, DawidSkeneParams],
    strengths: dict[int, np.ndarray],
) -> dict | None:
    votes = item.votes
    classes = [vote_class(item.keys, vote.ranking) for vote in votes]
    majority = strict_majority(classes)
    if method == ConsensusMethod.UNANIMOUS:
        if len(votes) >= 2 and majority and majority[1] == 1.0:
            return _label(class_ranking(item.keys, majority[0]), method, 1.0)
        return None
    if method == ConsensusMethod.MAJORITY:
        if majority is None:
            return None
        return _label(class_ranking(item.keys, majority[0]), method, majority[1])
    if method == ConsensusMethod.BRADLEY_TERRY or (method == AUTO and len(item.keys) > 2):
        if method == AUTO and majority and majority[0] == TIE:
            return _label(None, _agreeing_method(votes, majority), majority[1])
        ranking, confidence = bradley_terry_ranking(item.keys, strengths[item.item_id])
        model_label, model_method = vote_class(item.keys, ranking), ConsensusMethod.BRADLEY_TERRY
    else:
        fit = fits.get(len(item.keys)) or DawidSkeneParams.uninformed()
        posterior = fit.posterior(
            (vote.annotator_id, label) for vote, label in zip(votes, classes, strict=True)
        )
        model_label = max(fit.classes, key=lambda label: posterior[label])
        confidence, model_method = posterior[model_label], ConsensusMethod.DAWID_SKENE
    if method == AUTO and majority and majority[0] == model_label:
        model_method = _agreeing_method(votes, majority)
    return _label(class_ranking(item.keys, model_label), model_method, confidence)


def _agreeing_method(votes: list, majority: tuple[str, float]) -> str:
    unanimous = len(votes) >= 2 and majority[1] == 1.0
    return ConsensusMethod.UNANIMOUS if unanimous else ConsensusMethod.MAJORITY


def _answers(item: ItemJudgments, shape: RubricShape) -> dict:
    """Mean Likert score and flag share per response, over the judgments that answered."""
    out: dict[str, dict[str, float]] = {}
    for names, is_flag in ((shape.likert, False), (shape.flags, True)):
        for name in names:
            per_key: dict[str, float] = {}
            for key in item.keys:
                values = []
                for judgment in item.judgments:
                    answer = judgment.answers.get(name)
                    if not isinstance(answer, dict):
                        continue
                    value = answer.get(key, False if is_flag else None)
                    wanted = bool if is_flag else int | float
                    if isinstance(value, wanted) and (is_flag or not isinstance(value, bool)):
                        values.append(float(value))
                if values:
                    per_key[key] = round(sum(values) / len(values), 4)
            if per_key:
                out[name] = per_key
    return out


def _row(item: ItemJudgments, label: dict, shape: RubricShape) -> dict:
    votes = item.votes
    top = label["ranking"][0] if label["ranking"] else None
    strengths = [
        vote.strength
        for vote in votes
        if top is not None and vote.ranking and vote.ranking[0] == top and vote.strength
    ]
    rankings = [[] if vote.tie else list(vote.ranking) for vote in votes]
    agreement = item_agreement(rankings)
    return {
        "item_id": item.item_id,
        **label,
        "strength": float(median(strengths)) if strengths else None,
        "answers": _answers(item, shape),
        "agreement": None if agreement is None else round(agreement, 6),
        "judgment_ids": sorted(judgment.id for judgment in item.judgments),
    }


def label_items(
    items: list[ItemJudgments],
    shape: RubricShape,
    method: str = AUTO,
    fits: dict[int, DawidSkeneParams] | None = None,
) -> tuple[list[dict], int]:
    """Label rows for ``items`` (those with at least one preference vote) and how many of
    them ``method`` could not decide. Pure: reads and writes nothing."""
    voted = [item for item in items if item.votes and len(item.keys) >= 2]
    needs_bt = [
        item
        for item in voted
        if method == ConsensusMethod.BRADLEY_TERRY or (method == AUTO and len(item.keys) > 2)
    ]
    strengths = _bt_strengths(needs_bt) if needs_bt else {}
    rows, undecided = [], 0
    for item in voted:
        label = _decide(item, method, fits or {}, strengths)
        if label is None:
            undecided += 1
        else:
            rows.append(_row(item, label, shape))
    return rows, undecided


def _fit_sprint(sprint: Sprint, data: SprintVotes, method: str) -> dict[int, DawidSkeneParams]:
    """Fit Dawid-Skene per item size: pairs only for ``auto``, every size for
    ``dawid_skene``. The pairwise fit is stored for :func:`refresh_item_consensus`."""
    size = data.size[data.item]
    fitted = data.voted & ((size == 2) if method == AUTO else (size >= 2))
    gold_places = np.flatnonzero(
        data.is_gold & ((data.size == 2) if method == AUTO else (data.size >= 2))
    )
    gold_items = {int(data.item_ids[place]): data.keys[place] for place in gold_places.tolist()}
    gold: dict[int, str] = {}
    for item_id, answers in GoldAnswer.objects.filter(item_id__in=list(gold_items)).values_list(
        "item_id", "answers"
    ):
        ranking = gold_ranking(answers)
        if ranking and sorted(ranking) == sorted(gold_items[item_id]):
            gold[item_id] = vote_class(gold_items[item_id], ranking)
    labels = np.array(data.classes, dtype=object)
    sizes = set(np.unique(size[fitted]).tolist()) | ({2} if method == AUTO else set())
    fits = {}
    for width in sorted(sizes):
        rows = np.flatnonzero(fitted & (size == width))
        votes = pd.DataFrame(
            {
                "task": data.item_ids[data.item[rows]],
                "worker": data.annotator[rows],
                "label": labels[data.code[rows]],
            }
        )
        classes = list(PAIR_CLASSES) if width == 2 else sorted(set(votes["label"]))
        fits[width] = fit_dawid_skene(votes, gold, classes)
        if width == 2:
            DawidSkeneFit.objects.update_or_create(
                sprint=sprint, defaults={**fits[width].as_json(), "judgments": len(votes)}
            )
    return fits


def compute_consensus(sprint: Sprint, *, method: str = AUTO) -> dict:
    """Write or refresh the consensus label of every judged item of ``sprint``.

    Idempotent: labels whose content is unchanged are not rewritten, adjudicated labels are
    never touched, and a label the per-item refresh wrote after this read began is kept (see
    :mod:`reviews.services.consensus_store`). Reads the sprint once, column
    by column (:mod:`reviews.services.consensus_read`), labels every item at once
    (:mod:`reviews.services.consensus_sprint`, the same labels as :func:`label_items`) and
    writes in batches; no per-item query. Returns counts: ``items`` with at least one vote,
    ``labelled``, ``written`` (inserted or changed), ``adjudicated`` (kept), ``undecided`` (the
    method could not decide; their old label, if any, is kept) and ``methods`` (labels per
    method).
    """
    if method not in METHODS:
        raise UnknownMethod(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    shape = RubricShape.of(sprint)
    read_at = timezone.now()  # a label written after this saw newer judgments: it stays
    data = read_sprint(sprint, shape)
    fits = {}
    if method in (AUTO, ConsensusMethod.DAWID_SKENE):
        fits = _fit_sprint(sprint, data, method)
    adjudicated = set(
        ConsensusLabel.objects.filter(
            item__sprint=sprint, method=ConsensusMethod.ADJUDICATED
        ).values_list("item_id", flat=True)
    )
    rows, counts = label_sprint(data, shape, method, fits, adjudicated)
    methods = Counter(row["method"] for row in rows)
    written = upsert_labels(rows, sprint.pk, read_at=read_at)
    return {
        "items": counts["items"],
        "labelled": len(rows),
        "written": written,
        "adjudicated": counts["adjudicated"],
        "undecided": counts["undecided"],
        "methods": dict(sorted(methods.items())),
    }


def stored_fit(sprint_id: int) -> dict[int, DawidSkeneParams]:
    fit = DawidSkeneFit.objects.filter(sprint_id=sprint_id).first()
    if fit is None:
        return {}
    return {2: DawidSkeneParams.from_json(fit.classes, fit.priors, fit.confusions)}


def refresh_item_consensus(item: Item, judged: ItemJudgments | None = None) -> dict | None:
    """Relabel one item with the ``auto`` policy and the sprint's stored Dawid-Skene fit.

    Returns the label row written or kept, ``None`` when the item has no vote yet. An
    adjudicated label is left as it is. A few queries whatever the sprint's size.
    """
    shape = RubricShape.of(item.sprint)
    judged = judged or item_judgments(item, shape)
    rows, _ = label_items([judged], shape, AUTO, stored_fit(item.sprint_id))
    if not rows:
        return None
    upsert_labels(rows, item.sprint_id)
    return rows[0]
