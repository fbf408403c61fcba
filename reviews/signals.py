"""The reviews app listens to the annotation app (which never calls up a floor): when a
judgment or an item flag is stored, the item is reviewed by the Celery task
``reviews.tasks.review_item`` once the transaction that stored it commits.

The review is a background job (:func:`annotation.services.jobs.enqueue_on_commit`): its row
is stored with the judgment or flag, a broker that cannot take the message never fails the
annotator's submit (it is logged), and the job sweep publishes it again later. Rows made with
``bulk_create`` send no signal; the sprint sweep (``review_sprint``) covers those.
"""

from annotation.services.jobs import enqueue_on_commit

REVIEW_JOB = "review"


def enqueue_review(item_id: int) -> None:
    enqueue_on_commit(REVIEW_JOB, item_id)


def judgment_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        enqueue_review(instance.item_id)


def item_flag_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        enqueue_review(instance.item_id)
