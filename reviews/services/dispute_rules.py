"""When an item needs a reviewer: the four dispute rules, on plain values (no database).

- ``split``: the live votes have no strict majority for the best response (or a tie). For
  rankings of N > 2 responses the rule looks at the response ranked first: full rankings of
  many responses rarely coincide exactly, and disagreement further down is what the
  agreement rule measures.
- ``low_agreement``: ``item_agreement`` of the preference rankings (the share of agreeing
  annotator pairs, compared pairwise for N > 2) is under the sprint's ``agreement_threshold``.
- ``gold_failed``: the item is gold and a live judgment's preference differs from the known
  ranking (a tie always differs).
- ``flagged``: an annotator filed an :class:`annotation.models.ItemFlag` on the item. Flag
  *criteria* of the rubric (``unsafe``, ``hallucinated citation``…) do not open disputes: they
  are questions about a response that annotators answer on every item, their shares are part
  of the consensus label, and a sprint that hunts hallucinations would otherwise send every
  hallucination to a reviewer.

The first two rules wait until the item holds its ``overlap_k`` live judgments (a split of the
first two answers says little about the third); the last two apply at once.

Each reason comes with the time of its newest evidence (the judgment or flag behind it). A
reason whose evidence is older than the item's last resolved or voided dispute does not open
a new one: that dispute already settled it, and re-opening it on every recompute would loop.
New evidence (a revision, another failed gold answer, a new flag) does.
"""

from dataclasses import dataclass
from datetime import datetime

from reviews.models import DisputeReason
from reviews.services.agreement import item_agreement
from reviews.services.consensus_data import ItemJudgments
from reviews.services.consensus_methods import TIE, strict_majority

REASON_ORDER = [reason.value for reason in DisputeReason]


@dataclass(frozen=True)
class Evidence:
    reason: str
    at: datetime


def dispute_evidence(
    item: ItemJudgments,
    *,
    overlap_k: int,
    threshold: float,
    gold: list[str] | None,
    flagged_at: datetime | None,
) -> list[Evidence]:
    """The reasons that apply to ``item`` now, each with the time of its newest evidence."""
    evidence = []
    votes = item.votes
    if item.judgments and len(item.judgments) >= overlap_k:
        latest = max(judgment.created_at for judgment in item.judgments)
        firsts = [TIE if vote.tie else vote.ranking[0] for vote in votes]
        if votes and strict_majority(firsts) is None:
            evidence.append(Evidence(DisputeReason.SPLIT.value, latest))
        agreement = item_agreement([[] if vote.tie else list(vote.ranking) for vote in votes])
        if agreement is not None and agreement < threshold:
            evidence.append(Evidence(DisputeReason.LOW_AGREEMENT.value, latest))
    if gold:
        failed = [vote.created_at for vote in votes if vote.tie or list(vote.ranking) != gold]
        if failed:
            evidence.append(Evidence(DisputeReason.GOLD_FAILED.value, max(failed)))
    if flagged_at is not None:
        evidence.append(Evidence(DisputeReason.FLAGGED.value, flagged_at))
    return evidence


def new_reasons(evidence: list[Evidence], settled_at: datetime | None) -> list[str]:
    """The reasons whose evidence is newer than the item's last closed dispute."""
    return ordered(e.reason for e in evidence if settled_at is None or e.at > settled_at)


def ordered(reasons) -> list[str]:
    """Distinct reasons in the order :class:`DisputeReason` lists them."""
    present = set(reasons)
    return [reason for reason in REASON_ORDER if reason in present]
