"""The aggregation methods behind consensus labels, on plain values (no database).

- Votes: a judgment's preference as a class string over the item's response *positions*:
  ``"1>0"`` means the response at position 1 is better than the one at position 0; ``"tie"`` a
  tie. Positions rather than keys, so that the classes mean the same thing on every item of a
  sprint (what Dawid-Skene needs to learn one confusion matrix per annotator), whatever the
  import called the responses.
- Majority: a strict majority (more than half) of identical votes.
- Dawid-Skene: fitted with crowd-kit's ``DawidSkene`` (gold items' known answers passed as true
  labels), then kept as plain numbers (:class:`DawidSkeneParams`) so that one item's posterior
  can be computed from them later without refitting (:meth:`DawidSkeneParams.posterior`, the
  E-step of the model for one item).
- Bradley-Terry: our own vectorised MM iteration (Hunter 2004), not crowd-kit's
  ``BradleyTerry``. crowd-kit 1.4.2's loop keeps ``p_old`` as an alias of the array it
  overwrites in place, so its convergence test always reads 0 and it stops after two
  iterations, far from the maximum-likelihood estimate (see the tests); it also builds one
  dense win matrix over every label it is given, which for a sprint's responses would be
  (items x N) squared. Here every item is its own small problem, solved for all items of one
  size at once, with a pseudo-draw on every pair (``BT_PRIOR``) so that the estimate exists
  even when one response wins every comparison.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import numpy as np
import pandas as pd

TIE = "tie"
PAIR_CLASSES = ("0>1", "1>0", TIE)
EPS = 1e-10
# An annotator the fit has not seen (or no fit at all) is taken to be right this often, with
# the rest spread over the other classes: with no evidence either way, votes count alike.
DEFAULT_ACCURACY = 0.7
DS_ITERATIONS = 100
DS_TOLERANCE = 1e-5  # crowd-kit's default
DS_EPS = 1e-10  # crowd-kit's floor for errors and priors
BT_PRIOR = 1.0
BT_ITERATIONS = 10_000
BT_TOLERANCE = 1e-10


def vote_class(keys: Sequence[str], ranking: Sequence[str] | None) -> str:
    """The class of a preference over responses ``keys`` (by position); ``None`` is a tie."""
    if ranking is None:
        return TIE
    position = {key: index for index, key in enumerate(keys)}
    return ">".join(str(position[key]) for key in ranking)


def class_ranking(keys: Sequence[str], label: str) -> list[str] | None:
    """The ranking of keys a class stands for; ``None`` for a tie."""
    if label == TIE:
        return None
    return [keys[int(place)] for place in label.split(">")]


def strict_majority(votes: Iterable[str]) -> tuple[str, float] | None:
    """The value more than half the votes share, with its share; ``None`` when there is none."""
    counts = Counter(votes)
    total = sum(counts.values())
    if not total:
        return None
    value, count = counts.most_common(1)[0]
    return (value, count / total) if count * 2 > total else None


# --- Dawid-Skene ------------------------------------------------------------------------------


@dataclass
class DawidSkeneParams:
    """A fitted Dawid-Skene model: class priors and each annotator's confusion rows
    ``confusions[annotator][k][c] = P(answer k | truth c)`` (``None`` for an answer never
    given, which then says nothing, as in crowd-kit's own E-step)."""

    classes: list[str]
    priors: list[float]
    confusions: dict[int, list[list[float] | None]] = field(default_factory=dict)

    @classmethod
    def uninformed(cls, classes: Sequence[str] = PAIR_CLASSES) -> "DawidSkeneParams":
        return cls(list(classes), [1 / len(classes)] * len(classes), {})

    def _log_row(self, annotator_id: int, answer: int) -> tuple[float, ...] | None:
        """log P(answer | truth = c) for every class c, cached: items share annotators."""
        cache = self.__dict__.setdefault("_log_rows", {})
        key = (annotator_id, answer)
        if key not in cache:
            rows = self.confusions.get(annotator_id)
            if rows is None:
                size = len(self.classes)
                row = [(1 - DEFAULT_ACCURACY) / max(size - 1, 1)] * size
                row[answer] = DEFAULT_ACCURACY
            else:
                row = rows[answer] if answer < len(rows) else None
            cache[key] = None if row is None else tuple(math.log(max(p, EPS)) for p in row)
        return cache[key]

    def posterior(self, votes: Iterable[tuple[int, str]]) -> dict[str, float]:
        """P(truth = class | these (annotator, class) votes) for one item: the model's E-step.
        Plain floats rather than numpy: three classes and five votes are far below the size
        where array calls pay for themselves, and a sprint asks this once per item."""
        index = {label: place for place, label in enumerate(self.classes)}
        log = [math.log(max(prior, EPS)) for prior in self.priors]
        for annotator_id, label in votes:
            if label not in index:
                continue
            row = self._log_row(annotator_id, index[label])
            if row is not None:
                log = [total + part for total, part in zip(log, row, strict=True)]
        top = max(log)
        weights = [math.exp(value - top) for value in log]
        total = sum(weights)
        return {label: weight / total for label, weight in zip(self.classes, weights, strict=True)}

    def as_json(self) -> dict:
        return {
            "classes": self.classes,
            "priors": self.priors,
            "confusions": {str(k): v for k, v in self.confusions.items()},
        }

    @classmethod
    def from_json(cls, classes: list, priors: list, confusions: dict) -> "DawidSkeneParams":
        return cls(list(classes), list(priors), {int(k): v for k, v in confusions.items()})


def fit_dawid_skene(
    votes: pd.DataFrame, gold: dict[int, str], classes: Sequence[str]
) -> DawidSkeneParams:
    """Fit Dawid-Skene to ``votes`` (columns ``task``, ``worker``, ``label``).

    The EM of crowd-kit's ``DawidSkene`` (1.4), step for step: majority-vote start, tasks of
    ``gold`` (a task's known class) held at their class, error rows clipped at 1e-10 and
    normalised per worker, log2 E-step, stopping when the evidence lower bound per vote gains
    less than ``DS_TOLERANCE`` or after ``DS_ITERATIONS``. Run on *vote patterns*
    (:func:`_vote_patterns`): tasks with the same votes get the same posterior, so each distinct
    pattern is computed once and weighted by how many tasks share it; a sprint's hundred
    thousand items make a few hundred patterns, and the fit costs milliseconds where crowd-kit's
    per-row frames took seconds. The tests hold it to crowd-kit's result. Classes no vote uses
    get a prior of 0.
    """
    if votes.empty:
        return DawidSkeneParams.uninformed(classes)
    answer, found = pd.factorize(votes["label"], sort=True)
    labels = [str(label) for label in found]
    worker_ids, worker = np.unique(votes["worker"].to_numpy(), return_inverse=True)
    task_ids, task = np.unique(votes["task"].to_numpy(), return_inverse=True)
    known = {label: place for place, label in enumerate(labels)}
    truth = np.full(len(task_ids), -1, dtype=np.int64)
    if gold and len(task_ids):
        gold_ids = np.array(list(gold), dtype=np.int64)
        at = np.minimum(np.searchsorted(task_ids, gold_ids), len(task_ids) - 1)
        hit = task_ids[at] == gold_ids
        truth[at[hit]] = np.array([known.get(label, -1) for label in gold.values()])[hit]
    patterns, weights, true = _vote_patterns(task.reshape(-1), worker * len(labels) + answer, truth)
    errors, priors = _dawid_skene_em(patterns, weights, true, len(worker_ids), len(labels))
    confusions: dict[int, list[list[float] | None]] = {}
    for worker_place, worker_id in enumerate(worker_ids.tolist()):
        for label_place, label in enumerate(labels):
            row = errors[worker_place * len(labels) + label_place]
            if np.isnan(row[0]):
                continue  # never given by this worker
            rows = confusions.setdefault(int(worker_id), [None] * len(classes))
            by_truth = dict(zip(labels, row.tolist(), strict=True))
            rows[list(classes).index(label)] = [float(by_truth.get(c, 0.0)) for c in classes]
    by_label = dict(zip(labels, priors.tolist(), strict=True))
    return DawidSkeneParams(
        list(classes), [float(by_label.get(label, 0.0)) for label in classes], confusions
    )


def _vote_patterns(
    task: np.ndarray, answer: np.ndarray, truth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct tasks: each task's votes (``answer`` codes, sorted, padded with -1) and known
    class (-1 when none), as rows of a matrix; with how many tasks share each row."""
    order = np.lexsort((answer, task))
    task, answer = task[order], answer[order]
    count = np.bincount(task, minlength=len(truth))
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    matrix = np.full((len(truth), int(count.max()) + 1), -1, dtype=np.int64)
    matrix[task, np.arange(len(task)) - start[task]] = answer
    matrix[:, -1] = truth
    rows, weights = np.unique(matrix, axis=0, return_counts=True)
    return rows[:, :-1], weights.astype(float), rows[:, -1]


def _dawid_skene_em(
    patterns: np.ndarray, weights: np.ndarray, truth: np.ndarray, workers: int, labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Errors (``worker * labels + answer`` rows, truth columns; NaN rows for answers never
    given) and priors of crowd-kit's EM on weighted vote patterns."""
    slots = patterns >= 0
    codes = np.where(slots, patterns, 0)
    gold = truth >= 0
    given = np.zeros(workers * labels, dtype=bool)
    given[patterns[slots]] = True
    per_vote = float((weights[:, None] * slots).sum())

    def hold_gold(probas: np.ndarray) -> np.ndarray:
        probas[gold] = 0.0
        probas[np.flatnonzero(gold), truth[gold]] = 1.0
        return probas

    def m_step(probas: np.ndarray) -> np.ndarray:
        errors = np.zeros((workers * labels, labels))
        for slot in range(patterns.shape[1]):
            rows = slots[:, slot]
            np.add.at(errors, codes[rows, slot], weights[rows, None] * probas[rows])
        errors = np.clip(errors, DS_EPS, None)
        totals = errors.reshape(workers, labels, labels)
        totals = np.where(given.reshape(workers, labels, 1), totals, 0.0).sum(axis=1)
        errors = errors / np.repeat(totals, labels, axis=0)
        errors[~given] = np.nan
        return errors

    def log_terms(errors: np.ndarray, log) -> np.ndarray:
        table = log(np.where(np.isnan(errors), 1.0, errors))
        return np.where(slots[:, :, None], table[codes], 0.0).sum(axis=1)

    probas = np.zeros((len(patterns), labels))
    for slot in range(patterns.shape[1]):
        rows = slots[:, slot]
        probas[np.flatnonzero(rows), patterns[rows, slot] % labels] += 1.0
    probas = hold_gold(probas / probas.sum(axis=1, keepdims=True))
    priors = (weights @ probas) / weights.sum()
    errors = m_step(probas)
    loss = -np.inf
    for _ in range(DS_ITERATIONS):
        likelihood = np.log2(np.clip(priors, DS_EPS, None)) + log_terms(errors, np.log2)
        scaled = np.exp2(likelihood - likelihood.max(axis=1, keepdims=True))
        probas = hold_gold(scaled / scaled.sum(axis=1, keepdims=True))
        priors = (weights @ probas) / weights.sum()
        errors = m_step(probas)
        counted = slots.sum(axis=1)[:, None] * np.log(np.clip(priors, DS_EPS, None))
        joint = (weights[:, None] * probas * (log_terms(errors, np.log) + counted)).sum()
        clipped = np.clip(probas, DS_EPS, None)
        entropy = -(weights[:, None] * np.log(clipped) * clipped).sum()
        new_loss = (joint + entropy) / per_vote
        if new_loss - loss < DS_TOLERANCE:
            break
        loss = new_loss
    return errors, priors


# --- Bradley-Terry ----------------------------------------------------------------------------


def win_matrix(keys: Sequence[str], rankings: Iterable[Sequence[str] | None]) -> np.ndarray:
    """``wins[i, j]``: how often response ``keys[i]`` was ranked above ``keys[j]``. A tie
    counts half a win each way on every pair."""
    size = len(keys)
    position = {key: index for index, key in enumerate(keys)}
    wins = np.zeros((size, size))
    for ranking in rankings:
        if ranking is None:
            wins += 0.5 * (1 - np.eye(size))
            continue
        for better, worse in combinations(ranking, 2):
            wins[position[better], position[worse]] += 1
    return wins


def bradley_terry(wins: np.ndarray, prior: float = BT_PRIOR) -> np.ndarray:
    """Bradley-Terry strengths of each item's responses, ``wins`` of shape (items, n, n).

    Returns (items, n) strengths summing to 1 per item: the maximum-likelihood estimate after
    adding ``prior / 2`` pseudo-wins each way on every pair, by Hunter's MM update
    ``p_i = W_i / sum_j n_ij / (p_i + p_j)`` until no strength moves by ``BT_TOLERANCE``.
    """
    wins = np.asarray(wins, dtype=float)
    count, size = wins.shape[0], wins.shape[1]
    off_diagonal = 1 - np.eye(size)
    wins = wins + prior / 2 * off_diagonal
    games = wins + wins.transpose(0, 2, 1)
    won = wins.sum(axis=2)
    strengths = np.full((count, size), 1 / size)
    for _ in range(BT_ITERATIONS):
        pair_sums = strengths[:, :, None] + strengths[:, None, :]
        updated = won / (games / pair_sums).sum(axis=2)
        updated /= updated.sum(axis=1, keepdims=True)
        moved = np.abs(updated - strengths).max() if count else 0.0
        strengths = updated
        if moved < BT_TOLERANCE:
            break
    return strengths


def bradley_terry_ranking(keys: Sequence[str], strengths: np.ndarray) -> tuple[list[str], float]:
    """Keys strongest first (equal strengths keep position order) and the confidence: the
    smallest probability, over neighbours in that order, that the better one wins."""
    order = sorted(range(len(keys)), key=lambda index: (-strengths[index], index))
    neighbours = [
        strengths[first] / (strengths[first] + strengths[second])
        for first, second in pairwise(order)
    ]
    return [keys[index] for index in order], float(min(neighbours, default=1.0))
