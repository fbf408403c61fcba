"""The demo's labelled sprint: what a sprint looks like once its annotators are done.

``manage.py seed_demo`` makes a sprint for annotators to label; this adds, beside it, a closed
sprint of the same demo items that the demo's annotators and reviewer have already labelled,
so that right after ``make run`` a preference export has rows, the leaderboard has ratings and
a reward model has pairs to train on. Registered with
:func:`annotation.services.demo_extras.register_demo_extra` in ``reviews.apps``.

Guarantees:

- Through the real doors: items through the import service, each judgment leased from the
  queue (``next_assignment``) and stored by ``submit_judgment`` as the labeling API stores it,
  consensus and disputes from ``review_sprint`` as the workers compute them, the sprint
  closed by ``update_sprint``. So agreement, consensus labels and the audit log are what real
  labelling leaves.
- Deterministic: every choice comes from a random generator seeded by the labeller and the
  item's external id, so two fresh databases get the same answers.
- Plausible: the newer model of each pair is usually preferred (the gold answer where the item
  has one), some items go the other way, and each labeller now and then disagrees or calls a
  tie, so agreement is high but not perfect.
- Idempotent: a sprint with :data:`LABELLED_SLUG` already there is left exactly as it is.
"""

import random
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from annotation.models import (
    Criterion,
    CriterionKind,
    GoldAnswer,
    Response,
    Sprint,
    SprintMember,
    SprintRole,
    SprintStatus,
)
from annotation.services.audit import record_event
from annotation.services.demo_extras import DemoSeed
from annotation.services.imports import import_items
from annotation.services.judgments import submit_judgment
from annotation.services.queue import next_assignment
from annotation.services.sprint_setup import update_sprint
from reviews.models import ConsensusLabel
from reviews.services.disputes import review_sprint

LABELLED_SLUG = "demo-labelled"
LABELLED_NAME = "Support bot — last month (labelled)"
SEED = "concord-demo-labelled"
# How much better humans find each demo model; a model not listed ranks below these.
MODEL_PREFERENCE = {
    "support-bot-v4": 3,
    "support-bot-v4-mini": 2,
    "support-bot-v3": 1,
    "wiki-assistant-v2-rerank": 3,
    "wiki-assistant-v2": 2,
    "wiki-assistant-v1": 1,
    "ledger-copilot-v2": 3,
    "ledger-copilot-v2-small": 2,
    "ledger-copilot-v1": 1,
}
UPSET_RATE = 0.2  # items where the older model's answer is in truth the better one
DISAGREE_RATE = 0.07  # a labeller swaps the top two
TIE_RATE = 0.04  # a labeller cannot choose
NOISE_RATE = 0.25  # a labeller moves a strength or a score one step from the item's own


def seed_labelled_sprint(seed: DemoSeed) -> list[str]:
    """Make the labelled sprint, unless it exists; the lines ``seed_demo`` prints."""
    sprint = Sprint.objects.filter(slug=LABELLED_SLUG).first()
    if sprint is not None:
        labels = ConsensusLabel.objects.filter(sprint=sprint).count()
        return [
            f"Sprint {sprint.name!r} ({sprint.slug}): already there, left as it is "
            f"({labels} consensus labels)."
        ]
    lead = seed.lead
    sprint = Sprint.objects.create(
        name=LABELLED_NAME,
        slug=LABELLED_SLUG,
        description="The same demo items, already labelled by the demo annotators and "
        "reviewer: export it, open its leaderboard, train a reward model on it.",
        rubric=seed.rubric,
        status=SprintStatus.ACTIVE,
        overlap_k=3,
        gold_rate=0.1,
        agreement_threshold=0.6,
        deadline=timezone.now() - timedelta(days=3),
        created_by=lead,
    )
    record_event(lead, "sprint.created", sprint, sprint=sprint, changes={"slug": sprint.slug})
    for member in seed.members:
        SprintMember.objects.create(
            sprint=sprint, user=member.user, role=member.role, pseudonym=member.pseudonym
        )
    with seed.items_file.open("rb") as stream:
        import_items(sprint, stream, filename=seed.items_file.name, actor=lead)
    labellers = [member.user for member in seed.members if member.role != SprintRole.LEAD]
    judged = sum(_label_queue(sprint, user) for user in labellers)
    review = review_sprint(sprint)
    update_sprint(lead, sprint, {"status": SprintStatus.CLOSED})
    consensus = review["consensus"]
    return [
        f"Sprint {sprint.name!r} ({sprint.slug}): {judged} judgments by {len(labellers)} "
        f"labellers, {consensus['labelled']} consensus labels, {review['opened']} disputes "
        "opened; closed. Export it, open its leaderboard, train a reward model on it."
    ]


def _label_queue(sprint: Sprint, user: AbstractBaseUser) -> int:
    """Label everything the queue hands ``user`` in ``sprint``; how many judgments."""
    criteria = list(Criterion.objects.filter(rubric=sprint.rubric).order_by("position"))
    queue_rng = random.Random(f"{SEED}:queue:{user.username}")
    judged = 0
    while (assignment := next_assignment(sprint, user, rng=queue_rng)) is not None:
        item = assignment.item
        rng = random.Random(f"{SEED}:{user.username}:{item.external_id}")
        order, tie = _ranking(item, rng)
        # What the item deserves is shared by every labeller; each adds a little noise.
        deserved = random.Random(f"{SEED}:answers:{item.external_id}")
        submit_judgment(
            user,
            assignment.pk,
            _answers(criteria, order, tie, deserved, rng),
            seconds=round(rng.uniform(25, 150), 1),
            idempotency_key=f"{SEED}:{assignment.pk}",
        )
        judged += 1
    return judged


def _true_ranking(item) -> list[str]:
    """The order the item deserves: its gold ranking, else newer models first, with the top
    two swapped on a share of items (the same for every labeller)."""
    gold = GoldAnswer.objects.filter(item=item).values_list("answers", flat=True).first()
    ranking = _gold_ranking(gold)
    if ranking:
        return ranking
    responses = Response.objects.filter(item=item).order_by("position")
    models = dict(responses.values_list("key", "model_name"))
    order = sorted(models, key=lambda key: -MODEL_PREFERENCE.get(models[key], 0))
    if random.Random(f"{SEED}:item:{item.external_id}").random() < UPSET_RATE:
        order[0], order[1] = order[1], order[0]
    return order


def _gold_ranking(gold) -> list[str] | None:
    if not isinstance(gold, dict):
        return None
    if isinstance(gold.get("ranking"), list):
        return list(gold["ranking"])
    for value in gold.values():
        if isinstance(value, dict) and isinstance(value.get("ranking"), list):
            return list(value["ranking"])
    return None


def _ranking(item, rng: random.Random) -> tuple[list[str], bool]:
    """This labeller's order of the item's responses, best first, and whether they call it a
    tie instead."""
    order = _true_ranking(item)
    draw = rng.random()
    if draw < TIE_RATE:
        return order, True
    if draw < TIE_RATE + DISAGREE_RATE:
        order[0], order[1] = order[1], order[0]
    return order, False


def _answers(
    criteria: list[Criterion],
    order: list[str],
    tie: bool,
    deserved: random.Random,
    rng: random.Random,
) -> dict:
    """Answers to every criterion of the rubric, consistent with ``order``: the better a
    response is placed, the higher its scores (the same for a tie). Strengths and scores start
    from what the item deserves (``deserved``, the same for every labeller) and this labeller
    (``rng``) moves one of them a step now and then."""

    def noisy(value: int, low: int, high: int) -> int:
        if rng.random() < NOISE_RATE:
            value += rng.choice((-1, 1))
        return max(low, min(high, value))

    answers: dict = {}
    for criterion in criteria:
        config = criterion.config or {}
        if criterion.kind == CriterionKind.PREFERENCE:
            if tie and config.get("allow_tie"):
                answers[criterion.name] = {"tie": True}
                continue
            preference: dict = {"ranking": order}
            labels = config.get("strength_labels") or []
            if labels:
                strength = deserved.randint(1, len(labels))
                preference["strength"] = noisy(strength, 1, len(labels))
            answers[criterion.name] = preference
        elif criterion.kind == CriterionKind.LIKERT:
            low, high = int(config.get("min", 1)), int(config.get("max", 5))
            top = high - deserved.randint(0, 1)
            answers[criterion.name] = {
                key: noisy(top - (0 if tie else place), low, high)
                for place, key in enumerate(order)
            }
        elif criterion.kind == CriterionKind.FLAG:
            answers[criterion.name] = {key: False for key in order}
    return answers
