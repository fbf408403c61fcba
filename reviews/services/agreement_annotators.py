"""Per-annotator quality figures for a sprint's agreement report.

- ``consensus_agreement``: over the preference units (item, response pair) the annotator
  answered, the share where their answer equals the strict plurality of the *other* annotators
  (leave-one-out, so nobody agrees with themselves); units where the others tie, or nobody else
  answered, are not counted.
- ``gold_accuracy``: over gold items, the share whose preference equals the known ranking
  exactly (a tie never does).
- ``median_seconds``: median time spent per judgment.
- ``skip_rate``: skipped assignments / all assignments of the annotator in the sprint.
- ``outlier``: true when, among at least three annotators, the annotator's consensus agreement
  or gold accuracy is more than ``OUTLIER_MARGIN`` below the annotators' median, or their
  median time is under a third of the annotators' median (too fast to have read the item);
  ``outlier_reasons`` says which.
"""

from collections import Counter
from datetime import datetime

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.db.models import Count

from annotation.models import Assignment, GoldAnswer, Sprint, SprintMember
from annotation.models.judgments import AssignmentStatus
from reviews.services.agreement_alpha import dense_codes
from reviews.services.agreement_units import CriterionAnswers, SprintJudgments

OUTLIER_MARGIN = 0.15
TOO_FAST_SHARE = 1 / 3


def annotator_figures(
    sprint: Sprint,
    judgments: SprintJudgments,
    preference: CriterionAnswers | None,
    until: datetime | None = None,
) -> list[dict]:
    """One dict per annotator with live judgments or assignments in the sprint, by user id."""
    agreed, compared = _leave_one_out(judgments, preference)
    gold_right, gold_seen = _gold(sprint, judgments)
    assignments = Assignment.objects.filter(sprint=sprint)
    if until is not None:
        assignments = assignments.filter(leased_at__lte=until)
    assigned: Counter = Counter()
    skipped: Counter = Counter()
    for annotator_id, status, count in (
        assignments.order_by().values_list("annotator_id", "status").annotate(n=Count("id"))
    ):
        assigned[annotator_id] += count
        if status == AssignmentStatus.SKIPPED:
            skipped[annotator_id] += count
    ids = sorted(set(pd.unique(judgments.annotator_ids).tolist()) | set(assigned))
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    pseudonyms = dict(
        SprintMember.objects.filter(sprint=sprint, user_id__in=ids).values_list(
            "user_id", "pseudonym"
        )
    )
    figures = []
    for annotator_id in ids:
        mine = judgments.annotator_ids == annotator_id
        seconds = judgments.seconds[mine]
        seconds = seconds[~np.isnan(seconds)]
        figures.append(
            {
                "annotator": annotator_id,
                "username": names.get(annotator_id, ""),
                "pseudonym": pseudonyms.get(annotator_id) or "",
                "judgments": int(mine.sum()),
                "consensus_agreement": _share(agreed[annotator_id], compared[annotator_id]),
                "consensus_units": int(compared[annotator_id]),
                "gold_accuracy": _share(gold_right[annotator_id], gold_seen[annotator_id]),
                "gold_items": int(gold_seen[annotator_id]),
                "median_seconds": float(np.median(seconds)) if len(seconds) else None,
                "skip_rate": _share(skipped[annotator_id], assigned[annotator_id]),
            }
        )
    _mark_outliers(figures)
    return figures


def _share(part: float, whole: float) -> float | None:
    return float(part / whole) if whole else None


def _leave_one_out(
    judgments: SprintJudgments, preference: CriterionAnswers | None
) -> tuple[Counter, Counter]:
    agreed: Counter = Counter()
    compared: Counter = Counter()
    if preference is None or len(preference.units) == 0:
        return agreed, compared
    unit, units = dense_codes(preference.units)
    width = len(preference.domain)
    # bincount rather than np.add.at, which is unbuffered and ten times slower.
    counts = np.bincount(unit * width + preference.values, minlength=units * width)
    counts = counts.reshape(-1, width)
    others = counts[unit]
    others[np.arange(len(unit)), preference.values] -= 1
    top = others.max(axis=1)
    plurality = (others == top[:, None]).sum(axis=1) == 1
    counted = (top > 0) & plurality
    agrees = counted & (others.argmax(axis=1) == preference.values)
    annotators = judgments.annotator_ids[preference.rows]
    for annotator_id, total, hits in _group_sums(annotators, counted, agrees):
        compared[annotator_id] = total
        agreed[annotator_id] = hits
    return agreed, compared


def _group_sums(keys: np.ndarray, first: np.ndarray, second: np.ndarray):
    index, groups = pd.factorize(keys)
    totals = np.bincount(index, weights=first, minlength=len(groups))
    hits = np.bincount(index, weights=second, minlength=len(groups))
    return zip(groups.tolist(), totals.tolist(), hits.tolist(), strict=True)


def _gold(sprint: Sprint, judgments: SprintJudgments) -> tuple[Counter, Counter]:
    right: Counter = Counter()
    seen: Counter = Counter()
    gold = dict(
        GoldAnswer.objects.filter(item__sprint=sprint, item__is_gold=True).values_list(
            "item_id", "answers"
        )
    )
    if not gold:
        return right, seen
    for row in np.nonzero(np.isin(judgments.item_ids, list(gold)))[0]:
        expected = (gold[int(judgments.item_ids[row])] or {}).get("ranking")
        if not expected:
            continue
        annotator_id = int(judgments.annotator_ids[row])
        given = [] if judgments.tie[row] else judgments.ranking(int(row))
        seen[annotator_id] += 1
        right[annotator_id] += given == list(expected)
    return right, seen


def _mark_outliers(figures: list[dict]) -> None:
    for entry in figures:
        entry["outlier"] = False
        entry["outlier_reasons"] = []
    checks = [
        ("consensus_agreement", "agrees with the others' consensus far less than most"),
        ("gold_accuracy", "fails gold items far more than most"),
    ]
    for name, reason in checks:
        known = [e[name] for e in figures if e[name] is not None]
        if len(known) < 3:
            continue
        median = float(np.median(known))
        for entry in figures:
            if entry[name] is not None and entry[name] < median - OUTLIER_MARGIN:
                entry["outlier_reasons"].append(reason)
    times = [e["median_seconds"] for e in figures if e["median_seconds"] is not None]
    if len(times) >= 3:
        median = float(np.median(times))
        for entry in figures:
            if entry["median_seconds"] is not None and entry["median_seconds"] < (
                median * TOO_FAST_SHARE
            ):
                entry["outlier_reasons"].append("answers much faster than most")
    for entry in figures:
        entry["outlier"] = bool(entry["outlier_reasons"])
