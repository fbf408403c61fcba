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
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene

TIE = "tie"
PAIR_CLASSES = ("0>1", "1>0", TIE)
EPS = 1e-10
# An annotator the fit has not seen (or no fit at all) is taken to be right this often, with
# the rest spread over the other classes: with no evidence either way, votes count alike.
DEFAULT_ACCURACY = 0.7
DS_ITERATIONS = 100
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
    """Fit Dawid-Skene to ``votes`` (columns ``task``, ``worker``, ``label``) with crowd-kit.

    ``gold`` maps a task to its known class; crowd-kit then holds those tasks at their true
    class while it learns the confusion matrices, so a gold item teaches the model who is
    reliable. Classes no vote uses get a prior of 0.
    """
    if votes.empty:
        return DawidSkeneParams.uninformed(classes)
    known = {task: label for task, label in gold.items() if label in set(votes["label"])}
    true_labels = pd.Series(known, dtype=object) if known else None
    with warnings.catch_warnings():
        # crowd-kit 1.4 still passes pandas keywords that pandas 3 deprecates; nothing to act on.
        warnings.filterwarnings("ignore", module="crowdkit")
        model = DawidSkene(n_iter=DS_ITERATIONS).fit(votes, true_labels=true_labels)
    priors = model.priors_.to_dict()
    errors = model.errors_
    confusions: dict[int, list[list[float] | None]] = {}
    for (worker, answer), row in errors.iterrows():
        rows = confusions.setdefault(int(worker), [None] * len(classes))
        rows[classes.index(answer)] = [float(row.get(truth, 0.0)) for truth in classes]
    return DawidSkeneParams(
        list(classes), [float(priors.get(label, 0.0)) for label in classes], confusions
    )


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
