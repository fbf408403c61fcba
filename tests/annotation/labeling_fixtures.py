"""Small sprints with items and members, for queue and judgment tests."""

from datetime import timedelta

from django.utils import timezone

from annotation.models import Assignment, GoldAnswer, Item, Response, SprintMember, SprintRole


def lease_item(item: Item, user, minutes: int = 30) -> Assignment:
    """A live lease of ``item`` for ``user``, made directly rather than through the queue."""
    now = timezone.now()
    return Assignment.objects.create(
        sprint=item.sprint,
        item=item,
        annotator=user,
        leased_at=now,
        lease_expires_at=now + timedelta(minutes=minutes),
    )


def add_items(
    sprint, count: int, *, gold: int = 0, responses: int = 2, prefix: str = "t"
) -> list[Item]:
    items = []
    for index in range(count + gold):
        is_gold = index >= count
        item = Item.objects.create(
            sprint=sprint,
            external_id=f"{prefix}-{index}",
            prompt=f"Question {index}?",
            is_gold=is_gold,
            content_sha256=f"{index:064d}",
            metadata={"source": "secret-source"},
        )
        for position in range(responses):
            Response.objects.create(
                item=item,
                key="abcdefgh"[position],
                text=f"answer {position} to {index}",
                model_name=f"model-{position}",
                position=position,
            )
        if is_gold:
            GoldAnswer.objects.create(item=item, answers={"ranking": ["b", "a"]})
        items.append(item)
    return items


def join(sprint, *users, role=SprintRole.ANNOTATOR):
    for user in users:
        SprintMember.objects.create(sprint=sprint, user=user, role=role)
    return users


def good_answers(ranking=("a", "b")) -> dict:
    return {
        "preference": {"ranking": list(ranking), "strength": 2},
        "helpfulness": {key: 4 for key in ranking},
    }


def word_the_rubric(rubric) -> None:
    """The default test rubric, worded: its preference asks for the less harmful response and
    its helpfulness scale names its ends (1 useless, 5 perfect)."""
    preference = rubric.criteria.get(name="preference")
    preference.question = "Which response is less harmful?"
    preference.save()
    helpfulness = rubric.criteria.get(name="helpfulness")
    helpfulness.config = {"min": 1, "max": 5, "labels": {"1": "useless", "5": "perfect"}}
    helpfulness.save()
