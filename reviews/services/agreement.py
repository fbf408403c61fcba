"""Inter-annotator agreement: per item, and per criterion of a sprint (Krippendorff's alpha).

The sprint report is built in four parts: :mod:`reviews.services.agreement_rows` reads the live
judgments as entries, one per (judgment, response), whatever the number of distinct response
keys: from the agreement record each judgment stores when it is submitted
(:mod:`reviews.services.agreement_codes`, read by :mod:`reviews.services.agreement_codes_read`),
or, for a sprint with judgments stored before records, from their JSON answers (the statements
of :mod:`reviews.services.agreement_sql`, one snapshot), which gives the same figures;
:mod:`reviews.services.agreement_units` lays each criterion out as (unit, value) answers at its
level of measurement (the units and the signed strength scale are documented there);
:mod:`reviews.services.agreement_alpha` computes alpha with the ``krippendorff`` package, the
bootstrap interval and the percent agreement; :mod:`reviews.services.agreement_annotators` the
per-annotator figures and the outlier rule. The API, the ``agreement`` command, the dashboard
and the exports' manifests all call :func:`sprint_agreement`.
"""

from datetime import datetime
from itertools import combinations

import numpy as np

from annotation.models import Sprint
from reviews.services.agreement_alpha import criterion_alpha, pairable_counts
from reviews.services.agreement_annotators import annotator_figures
from reviews.services.agreement_units import load_judgments


def item_agreement(rankings: list[list[str]]) -> float | None:
    """Share of annotator pairs that agree on an item's preference, or None below 2 rankings.

    A ranking lists response keys best first; a tie is the empty list and counts as a value of
    its own. Rankings of N > 2 responses are compared pairwise: every pair of responses is a
    question ("which ranks higher, or tie?") and each annotator pair either agrees on it or not,
    so two rankings that differ only in the order of the last two responses still mostly agree.
    """
    if len(rankings) < 2:
        return None
    keys = sorted({key for ranking in rankings for key in ranking})
    if not keys:
        return 1.0
    positions = [{key: place for place, key in enumerate(ranking)} for ranking in rankings]
    agreeing = total = 0
    for first, second in combinations(keys, 2):
        answers = [_pair_order(position, first, second) for position in positions]
        for one, other in combinations(answers, 2):
            total += 1
            agreeing += one == other
    return agreeing / total if total else 1.0


def _pair_order(position: dict[str, int], first: str, second: str) -> int:
    """+1 when ``first`` ranks above ``second``, -1 below, 0 for a tie (or either unranked)."""
    if first not in position or second not in position:
        return 0
    return 1 if position[first] < position[second] else -1


def sprint_agreement(
    sprint: Sprint, *, bootstrap: int = 1000, seed: int = 0, until: datetime | None = None
) -> dict:
    """The agreement report of a sprint, JSON-serialisable.

    ``{"items", "judgments", "criteria": {name: {"alpha", "ci", "level", "percent_agreement",
    "items", "judgments"}}, "annotators": [...]}`` over the live judgments (revisions replace
    what they supersede); with ``until``, as the sprint stood then (judgments made by then, the
    latest revision by then). ``bootstrap`` resamples of units give the 95% interval (none when
    0); the same ``seed`` gives the same interval. ``alpha`` is None when it is undefined (no
    item judged twice, or one value only). Text criteria are not compared. Reads the database
    without locking; the figures describe one consistent query of the judgments.
    """
    judgments = load_judgments(sprint, until)
    rng = np.random.default_rng(seed)
    criteria = {}
    preference = None
    preference_name = _preference_name(sprint)
    for answers in judgments.criteria:
        if answers.name == preference_name:
            preference = answers
        pairable, counts = pairable_counts(answers.units, answers.values, len(answers.domain))
        figures = criterion_alpha(
            counts, answers.domain, answers.level, bootstrap=bootstrap, rng=rng
        ).as_dict()
        rows = answers.rows[pairable]
        figures["items"] = judgments.distinct_items(rows)
        figures["judgments"] = int(np.count_nonzero(np.bincount(rows))) if len(rows) else 0
        criteria[answers.name] = figures
    return {
        "items": judgments.distinct_items(),
        "judgments": judgments.count,
        "criteria": criteria,
        "annotators": annotator_figures(sprint, judgments, preference, until),
    }


def _preference_name(sprint: Sprint) -> str | None:
    criterion = sprint.rubric.preference_criterion()
    return criterion.name if criterion else None
