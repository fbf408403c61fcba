"""Why a finished export kept nothing, in words a lead can act on.

An export of a fully labelled sprint that finished with 0 rows used to say why only inside its
manifest's counts (issue: consensus is computed by the workers, so with only the web server
running every item lacked a label). The API's ``note``, the admin and the ``export_dataset``
command all show this one sentence.
"""

from typing import Any

from exports.models import DatasetVersion, ExportStatus

# What each reason an item was left out means, and what to do about it.
DROP_REASONS = {
    "no_consensus": (
        "had no consensus label yet: consensus is computed by the workers; run "
        "`python manage.py review_sprint <sprint>` or POST /api/v1/sprints/{id}/consensus/recompute"
    ),
    "incomplete_ranking": "had a consensus that does not rank every response",
    "gold": "were gold items (set include_gold to export them)",
    "flagged": "were flagged by an annotator (exclude_flagged is on)",
    "not_adjudicated": "were not adjudicated (adjudicated_only is on)",
    "low_agreement": "had item agreement under min_agreement",
    "tie": "were ties, which a preference pair cannot hold",
}


def why_empty(dataset: DatasetVersion) -> str | None:
    """For a finished export with no rows, why: every reason its manifest counted, largest
    first, with how many items and what to do. ``None`` for any other export."""
    if dataset.status != ExportStatus.DONE or dataset.rows:
        return None
    counts: dict[str, Any] = (dataset.manifest or {}).get("counts") or {}
    dropped = {
        reason: number
        for reason, number in (counts.get("items_dropped") or {}).items()
        if isinstance(number, int) and number > 0
    }
    production = dataset.production
    none_here = ""
    if production is not None:
        sources = ", ".join(production.get("sources") or []) or "no source"
        none_here = (
            f"no production pair of {sources} matched the filters (pairs come from corrections, "
            "and from picks between responses shown together)"
        )
        if not dataset.sprints.exists():
            return f"No rows: {none_here}."
        if not dropped:
            return f"No rows: the sprints have no items to export, and {none_here}."
    if not dropped:
        return "No rows: the sprints have no items (or no live judgments) to export."
    parts = [
        f"{number} item{'s' if number != 1 else ''} "
        f"{DROP_REASONS.get(reason, f'were left out ({reason})')}"
        for reason, number in sorted(dropped.items(), key=lambda pair: -pair[1])
    ]
    return "No rows: " + "; ".join([*parts, *([none_here] if none_here else [])]) + "."
