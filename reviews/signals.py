"""The reviews app listens to the annotation app (which never calls up a floor): when a
judgment or an item flag is stored, the item is reviewed by the Celery task
``reviews.tasks.review_item`` once the transaction that stored it commits.

``robust`` on-commit hooks: if the broker cannot take the message, the annotator's submit still
succeeds (the error is logged) and the sprint sweep (``review_sprint``) catches the item later.
Rows made with ``bulk_create`` send no signal; the sweep covers those as well.
"""

from functools import partial

from django.db import transaction


def enqueue_review(item_id: int) -> None:
    from reviews.tasks import review_item

    transaction.on_commit(partial(review_item.delay, item_id), robust=True)


def judgment_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        enqueue_review(instance.item_id)


def item_flag_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        enqueue_review(instance.item_id)
