"""``python manage.py select_next_sprint <sprint> --model <id> --size N``: build the next sprint
from a sprint's unlabeled items by the production model's uncertainty, through the same door as
the API and the admin (:func:`training.services.selection_jobs.start_selection`).

It runs in this process with a progress bar of the items scored; ``--enqueue`` hands it to a
worker instead, and prints the selection's id to follow on its admin page or
``GET /api/v1/selections/{id}``.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.models import Sprint
from annotation.services.errors import ConcordError
from training.models import ModelVersion, RunStatus
from training.services.selection_jobs import execute_selection, start_selection


class Command(BaseCommand):
    help = "Select the next sprint from a sprint's unlabeled items (active selection)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sprint", help="slug or id of the sprint to select from")
        parser.add_argument("--model", type=int, required=True, help="a production model id")
        parser.add_argument("--size", type=int, required=True, help="items to select")
        parser.add_argument("--random-share", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--name", default="", help="the new sprint's name")
        parser.add_argument("--slug", default="", help="the new sprint's slug")
        parser.add_argument("--user", help="a lead of the sprint, recorded as the actor")
        parser.add_argument("--enqueue", action="store_true", help="hand it to a worker")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, sprint: str, model: int, **options) -> None:
        lookup = {"pk": int(sprint)} if sprint.isdigit() else {"slug": sprint}
        source = Sprint.objects.select_related("rubric").filter(**lookup).first()
        version = ModelVersion.objects.filter(pk=model).first()
        if source is None or version is None:
            raise CommandError(f"no sprint {sprint!r}" if source is None else f"no model {model}")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"no user {options['user']!r}")
        try:
            selection = start_selection(
                source, version, actor=actor, size=options["size"],
                random_share=options["random_share"], seed=options["seed"],
                name=options["name"], slug=options["slug"], enqueue=options["enqueue"],
            )  # fmt: skip
        except ConcordError as refused:
            raise CommandError(refused.detail) from None
        if options["enqueue"]:
            self.stdout.write(f"Selection {selection.pk} is queued for a worker.")
            return
        bar = tqdm(unit="item", disable=options["no_progress"], file=self.stderr._out)

        def show(scored: int, total: int) -> None:
            bar.total = total
            bar.update(scored - bar.n)

        done = execute_selection(selection.pk, on_progress=show)
        bar.close()
        if done is None or done.status != RunStatus.DONE:
            raise CommandError(f"selection failed: {done.error if done else 'not queued'}")
        result = done.result
        self.stdout.write(
            self.style.SUCCESS(
                f"Sprint {result['slug']} (id {result['sprint']}): {len(result['uncertain'])} "
                f"least certain, {len(result['random'])} random, {result['gold_copied']} gold."
            )
        )
