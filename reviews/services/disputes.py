"""Disputes: opening them when an item's judgments call for a reviewer, and settling them.

The single doors:

- :func:`review_item` (one item, as a judgment or flag arrives; run by the Celery task
  ``reviews.tasks.review_item``) refreshes the item's consensus label and opens or extends its
  dispute by the rules of :mod:`reviews.services.dispute_rules`;
- :func:`review_sprint` (a whole sprint: the beat safety net, the ``review_sprint`` command and
  tests) recomputes the sprint's consensus and applies the same rules to every item in chunks;
- :func:`resolve_dispute` writes the reviewer's final ranking as an ``adjudicated`` consensus
  label, closes the dispute and records an audit event, in one transaction;
- :func:`void_dispute` closes a dispute that needs no answer, with a reason, audited.

At most one dispute per item is open (a partial unique constraint); a new reason joins the
open dispute's ``reasons``. Every writer that touches one item's label or dispute locks the
item's row first (review, resolve, void), so they run one after another per item and never
deadlock on the label and dispute rows.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import (
    Criterion,
    CriterionKind,
    GoldAnswer,
    Item,
    ItemFlag,
    Sprint,
    SprintRole,
)
from annotation.services.access import role_at_least, sprint_role
from annotation.services.answers import validate_answers
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from annotation.services.json_limits import text_field_problem
from reviews.models import ConsensusLabel, ConsensusMethod, Dispute, DisputeStatus
from reviews.services.consensus import compute_consensus, label_items, refresh_item_consensus
from reviews.services.consensus_data import (
    RubricShape,
    gold_ranking,
    item_judgments,
    sprint_item_chunks,
)
from reviews.services.dispute_rules import dispute_evidence, new_reasons, ordered

MAX_RATIONALE = 5000


class DisputeRejected(ConcordError):
    """A resolve or void that cannot be done; ``problems`` say why (``{"field", "message"}``),
    ``status`` is the HTTP status (400 bad input, 403 role, 404 not a member, 409 not open).
    Nothing is stored."""


# --- opening --------------------------------------------------------------------------------


def _settled_at(item_ids: list[int]) -> dict[int, datetime]:
    return dict(
        Dispute.objects.filter(item_id__in=item_ids)
        .exclude(status=DisputeStatus.OPEN)
        .order_by()
        .values("item_id")
        .annotate(last=Max("resolved_at"))
        .values_list("item_id", "last")
    )


def _flagged_at(item_ids: list[int]) -> dict[int, datetime]:
    return dict(
        ItemFlag.objects.filter(item_id__in=item_ids)
        .order_by()
        .values("item_id")
        .annotate(last=Max("created_at"))
        .values_list("item_id", "last")
    )


def _gold(item_ids: list[int]) -> dict[int, list[str] | None]:
    return {
        item_id: gold_ranking(answers)
        for item_id, answers in GoldAnswer.objects.filter(item_id__in=item_ids).values_list(
            "item_id", "answers"
        )
    }


def _open_or_extend(item: Item, reasons: list[str]) -> Dispute:
    """Open a dispute on the (locked) item or add reasons to its open one."""
    current = Dispute.objects.filter(item=item, status=DisputeStatus.OPEN).first()
    if current is None:
        try:
            with transaction.atomic():
                return Dispute.objects.create(sprint_id=item.sprint_id, item=item, reasons=reasons)
        except IntegrityError:  # a sprint sweep opened it meanwhile
            current = Dispute.objects.get(item=item, status=DisputeStatus.OPEN)
    merged = ordered([*current.reasons, *reasons])
    if merged != current.reasons:
        current.reasons = merged
        current.save(update_fields=["reasons"])
    return current


def review_item(item_id: int) -> Dispute | None:
    """Refresh one item's consensus label and open or extend its dispute if a rule applies.

    Idempotent (running it twice changes nothing more); locks the item's row for the length
    of its transaction; about ten queries whatever the sprint's size. Returns the item's open
    dispute when a rule applied now, else ``None`` (also for an unknown item).
    """
    with transaction.atomic():
        item = (
            Item.objects.select_for_update(of=("self",))
            .select_related("sprint")
            .filter(pk=item_id)
            .first()
        )
        if item is None:
            return None
        sprint = item.sprint
        judged = item_judgments(item, RubricShape.of(sprint))
        refresh_item_consensus(item, judged)
        evidence = dispute_evidence(
            judged,
            overlap_k=sprint.overlap_k,
            threshold=sprint.agreement_threshold,
            gold=_gold([item.pk]).get(item.pk) if item.is_gold else None,
            flagged_at=_flagged_at([item.pk]).get(item.pk),
        )
        reasons = new_reasons(evidence, _settled_at([item.pk]).get(item.pk))
        return _open_or_extend(item, reasons) if reasons else None


def review_sprint(sprint: Sprint) -> dict:
    """Recompute the sprint's consensus and apply the dispute rules to every item.

    The safety net behind the per-item task (a judgment stored in bulk, a lost message): it
    reads the sprint in item chunks and writes disputes in bulk. Idempotent. Returns
    ``{"consensus": <compute_consensus counts>, "opened", "extended"}`` (a dispute the per-item
    task opened between the sweep's read and its write counts as opened too).
    """
    consensus = compute_consensus(sprint)
    shape = RubricShape.of(sprint)
    opened = extended = 0
    for chunk in sprint_item_chunks(sprint, shape, times=True):
        ids = [item.item_id for item in chunk]
        gold = _gold([item.item_id for item in chunk if item.is_gold])
        flagged, settled = _flagged_at(ids), _settled_at(ids)
        current = {
            dispute.item_id: dispute
            for dispute in Dispute.objects.filter(item_id__in=ids, status=DisputeStatus.OPEN)
        }
        new, changed = [], []
        for item in chunk:
            evidence = dispute_evidence(
                item,
                overlap_k=sprint.overlap_k,
                threshold=sprint.agreement_threshold,
                gold=gold.get(item.item_id),
                flagged_at=flagged.get(item.item_id),
            )
            reasons = new_reasons(evidence, settled.get(item.item_id))
            if not reasons:
                continue
            dispute = current.get(item.item_id)
            if dispute is None:
                new.append(Dispute(sprint=sprint, item_id=item.item_id, reasons=reasons))
            elif ordered([*dispute.reasons, *reasons]) != dispute.reasons:
                dispute.reasons = ordered([*dispute.reasons, *reasons])
                changed.append(dispute)
        with transaction.atomic():
            # A dispute the per-item task opened meanwhile wins; its reasons follow next sweep.
            opened += len(Dispute.objects.bulk_create(new, ignore_conflicts=True))
            extended += Dispute.objects.bulk_update(changed, ["reasons"])
    return {"consensus": consensus, "opened": opened, "extended": extended}


# --- settling -------------------------------------------------------------------------------


def _locked_open_dispute(dispute: Dispute, actor: AbstractBaseUser) -> tuple[Dispute, Item]:
    item = Item.objects.select_for_update(of=("self",)).get(pk=dispute.item_id)
    locked = (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("sprint__rubric")
        .get(pk=dispute.pk)
    )
    # Asked inside the transaction, after the locks: a member removed or demoted meanwhile is
    # refused. A non-member learns nothing (404), as from the API; a lower role is told (403).
    role = sprint_role(actor, locked.sprint)
    if role is None:
        raise DisputeRejected([{"message": "no such dispute"}], 404)
    if not role_at_least(role, SprintRole.REVIEWER):
        raise DisputeRejected(
            [{"message": "settling disputes needs the reviewer role in this sprint"}], 403
        )
    if locked.status != DisputeStatus.OPEN:
        raise DisputeRejected([{"message": f"this dispute is already {locked.status}"}], 409)
    return locked, item


def _check_rationale(text: Any, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise DisputeRejected([{"field": field, "message": "is required: say why"}])
    if len(text) > MAX_RATIONALE:
        raise DisputeRejected(
            [{"field": field, "message": f"is longer than {MAX_RATIONALE} characters"}]
        )
    unstorable = text_field_problem(text, field)
    if unstorable:
        raise DisputeRejected([unstorable])
    return text.strip()


def _check_ranking(ranking: Any, keys: tuple[str, ...], tie: bool, allow_tie: bool):
    if tie:
        if not allow_tie:
            raise DisputeRejected([{"field": "tie", "message": "this rubric does not allow ties"}])
        if ranking not in (None, []):
            raise DisputeRejected([{"field": "ranking", "message": "a tie ranks nothing"}])
        return None
    if not isinstance(ranking, list) or not all(isinstance(key, str) for key in ranking):
        raise DisputeRejected([{"field": "ranking", "message": "must be a list of response ids"}])
    unknown = [key for key in ranking if key not in keys]
    if unknown:
        raise DisputeRejected(
            [{"field": "ranking", "message": f"unknown response id {unknown[0]!r}"}]
        )
    if len(set(ranking)) != len(ranking):
        raise DisputeRejected([{"field": "ranking", "message": "repeats a response id"}])
    if len(ranking) != len(keys):
        missing = ", ".join(key for key in keys if key not in ranking)
        raise DisputeRejected(
            [{"field": "ranking", "message": f"must rank every response; missing {missing}"}]
        )
    return list(ranking)


def _check_answers(answers: Any, criteria: list[Criterion], keys: tuple[str, ...]) -> dict:
    if answers in (None, {}):
        return {}
    if not isinstance(answers, dict):
        raise DisputeRejected([{"field": "answers", "message": "must be an object by criterion"}])
    named = {c.name: c for c in criteria}
    for name in answers:
        criterion = named.get(name)
        if criterion is None or criterion.kind == CriterionKind.PREFERENCE:
            message = "is not a criterion of this rubric"
            if criterion is not None:
                message = "give the preference as ranking (and strength), not here"
            raise DisputeRejected([{"field": f"answers.{name}", "message": message}])
    clean, problems = validate_answers([named[n] for n in answers], list(keys), answers)
    if problems:
        raise DisputeRejected(problems)
    return clean


def _check_strength(strength: Any, preference: Criterion | None, tie: bool) -> int | None:
    if strength is None:
        return None
    labels = (preference.config or {}).get("strength_labels", []) if preference else []
    if tie or not labels:
        message = "a tie has no strength" if tie else "this rubric has no strength scale"
        raise DisputeRejected([{"field": "strength", "message": message}])
    if not isinstance(strength, int) or isinstance(strength, bool):
        raise DisputeRejected([{"field": "strength", "message": "must be an integer"}])
    if not 1 <= strength <= len(labels):
        raise DisputeRejected(
            [{"field": "strength", "message": f"must be an integer from 1 to {len(labels)}"}]
        )
    return strength


def resolve_dispute(
    dispute: Dispute,
    reviewer: AbstractBaseUser,
    ranking: Any,
    rationale: Any,
    answers: Any = None,
    *,
    tie: bool = False,
    strength: Any = None,
) -> ConsensusLabel:
    """Settle an open dispute with the reviewer's final ranking (best first) and rationale.

    Validates everything before writing (the ranking must order every response id of the item
    exactly once; a tie only where the rubric allows one; ``answers`` optional, per Likert,
    flag or text criterion, checked like a judgment's; ``strength`` on the rubric's scale),
    then in one transaction, with the item and dispute rows locked: writes the item's
    ``adjudicated`` consensus label (confidence 1; the other criteria's consensus kept where
    the reviewer gave no answer), marks the dispute resolved and records the audit event
    ``dispute.resolved``. The reviewer must be a reviewer or lead of the dispute's sprint at
    that moment (a removed member: 404; a member demoted to annotator: 403). Raises
    :class:`DisputeRejected` and stores nothing otherwise.
    """
    rationale = _check_rationale(rationale, "rationale")
    with transaction.atomic():
        dispute, item = _locked_open_dispute(dispute, reviewer)
        sprint = dispute.sprint
        criteria = list(Criterion.objects.filter(rubric_id=sprint.rubric_id))
        preference = next((c for c in criteria if c.kind == CriterionKind.PREFERENCE), None)
        allow_tie = bool(preference and (preference.config or {}).get("allow_tie"))
        shape = RubricShape.of(sprint)
        judged = item_judgments(item, shape)
        final = _check_ranking(ranking, judged.keys, bool(tie), allow_tie)
        strength = _check_strength(strength, preference, bool(tie))
        given = _check_answers(answers, criteria, judged.keys)
        computed, _ = label_items([judged], shape)
        consensus_answers = dict(computed[0]["answers"]) if computed else {}
        for name, value in given.items():
            if name in shape.likert or name in shape.flags:
                consensus_answers[name] = {key: float(score) for key, score in value.items()}
        previous = ConsensusLabel.objects.filter(item=item).values("ranking", "method").first()
        label, _ = ConsensusLabel.objects.update_or_create(
            item=item,
            defaults={
                "sprint": sprint,
                "ranking": final or [],
                "tie": final is None,
                "strength": float(strength) if strength is not None else None,
                "answers": consensus_answers,
                "method": ConsensusMethod.ADJUDICATED,
                "confidence": 1.0,
                "agreement": computed[0]["agreement"] if computed else None,
                "judgment_ids": sorted(judgment.id for judgment in judged.judgments),
            },
        )
        dispute.status = DisputeStatus.RESOLVED
        dispute.resolved_by = reviewer
        dispute.resolved_at = timezone.now()
        dispute.final_ranking = final or []
        dispute.final_answers = {**given, **({"strength": strength} if strength else {})}
        dispute.rationale = rationale
        dispute.save()
        record_event(
            reviewer,
            "dispute.resolved",
            dispute,
            sprint=sprint,
            changes={
                "item": item.pk,
                "ranking": final or [],
                "tie": final is None,
                "rationale": rationale,
                "reasons": dispute.reasons,
                "previous_label": previous,
            },
        )
    return label


def void_dispute(dispute: Dispute, actor: AbstractBaseUser, reason: Any) -> Dispute:
    """Close an open dispute without an answer (a false alarm, a broken item handled
    elsewhere), with the reason as its rationale; the consensus label is left as it is.
    Audited as ``dispute.voided``. Reviewers and leads of the sprint only, checked as
    :func:`resolve_dispute` checks them; raises :class:`DisputeRejected` and stores nothing
    otherwise."""
    reason = _check_rationale(reason, "reason")
    with transaction.atomic():
        dispute, _ = _locked_open_dispute(dispute, actor)
        dispute.status = DisputeStatus.VOID
        dispute.resolved_by = actor
        dispute.resolved_at = timezone.now()
        dispute.rationale = reason
        dispute.save()
        record_event(
            actor,
            "dispute.voided",
            dispute,
            sprint=dispute.sprint,
            changes={"item": dispute.item_id, "reason": reason, "reasons": dispute.reasons},
        )
    return dispute
