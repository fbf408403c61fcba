"""A broker nobody answers, for the broker-down tests: :func:`dead_broker` points this
process's Celery app at Redis on a port where nothing listens (the connection is refused at
once) and gives the real broker back afterwards. Celery keeps its connection and producer pools
for the life of the app, so the app's references to them are dropped on the way in and on the
way out.

:func:`background_writes` makes, through the REST API, one write of every kind that hands
work to a worker: a judgment, an item flag, an export and a training run."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from celery import current_app

from tests.annotation.labeling_fixtures import add_items, good_answers

DEAD_BROKER_URL = "redis://127.0.0.1:1/0"


def _drop_connections() -> None:
    # Dropped, not closed: kombu keeps one producer pool per broker URL for the process, and
    # the real broker's pool must still be open when it is given back.
    current_app._pool = None
    current_app.amqp._producer_pool = None


@contextmanager
def dead_broker() -> Iterator[str]:
    conf = current_app.conf
    saved = conf.get("broker_write_url"), conf.broker_transport_options
    # Publishing connects to the write URL; the environment's CELERY_BROKER_URL would win over
    # the setting broker_url.
    conf.broker_write_url = DEAD_BROKER_URL
    # The deployment's Redis options (concord/settings.py), not the filesystem broker's.
    conf.broker_transport_options = {
        "socket_timeout": 2.0, "socket_connect_timeout": 2.0, "max_retries": 1,
        "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2,
    }  # fmt: skip
    _drop_connections()
    try:
        yield DEAD_BROKER_URL
    finally:
        conf.broker_write_url, conf.broker_transport_options = saved
        _drop_connections()


@dataclass
class BackgroundWrites:
    """What :func:`background_writes` answered: the responses, and the ids they made."""

    judgment: object
    flag: object
    export: object
    run: object


def background_writes(
    sprint, annotator, lead, dataset, api_client_for, *, run_options: dict | None = None
) -> BackgroundWrites:
    """A judgment and a flag by ``annotator``, an export of ``sprint`` and a training run on
    ``dataset`` by ``lead``, each through the API as a client makes it."""
    add_items(sprint, 2)
    labeler, leader = api_client_for(annotator), api_client_for(lead)
    first = labeler.get(f"/api/v1/sprints/{sprint.pk}/next").json()
    judgment = labeler.post(
        "/api/v1/judgments",
        {"assignment": first["assignment"], "answers": good_answers(), "seconds": 5},
        format="json",
        HTTP_IDEMPOTENCY_KEY="broker-down-1",
    )
    second = labeler.get(f"/api/v1/sprints/{sprint.pk}/next").json()
    flag = labeler.post(
        f"/api/v1/assignments/{second['assignment']}/flag",
        {"reason": "the answers are cut off"},
        format="json",
    )
    export = leader.post("/api/v1/exports", {"sprints": [sprint.pk]}, format="json")
    run = leader.post(
        "/api/v1/training-runs", {"dataset": dataset.pk, **(run_options or {})}, format="json"
    )
    return BackgroundWrites(judgment=judgment, flag=flag, export=export, run=run)
