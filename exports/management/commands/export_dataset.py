"""``manage.py export_dataset``: make a dataset version of one or more sprints.

By default the export is built here, in this process, with a progress bar, so that a lead at a
terminal sees it finish; the dataset version it records is the same as one a worker builds, and
the API serves it. ``--enqueue`` hands the build to a Celery worker instead and returns at once.
Either way the request goes through ``start_export``: the named user must lead every sprint.

    python manage.py export_dataset sprint-a sprint-b --user lead --format parquet \\
        --filters '{"test_fraction": 0.1, "form": "conversational"}'
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.models import Sprint
from exports.models import ExportStatus
from exports.services.build import build_dataset, start_export
from exports.services.empty import why_empty
from exports.services.requests import ExportRejected


class Command(BaseCommand):
    help = "Export a dataset version (preference pairs, judgments or consensus) of sprints."

    def add_arguments(self, parser):
        parser.add_argument("sprints", nargs="+", help="sprint ids or slugs")
        parser.add_argument("--kind", default="preference", help="preference, judgments, consensus")
        parser.add_argument("--format", default="jsonl", help="jsonl, parquet or csv")
        parser.add_argument("--filters", default="{}", help="JSON, e.g. '{\"test_fraction\": 0.1}'")
        parser.add_argument("--user", required=True, help="username of a lead of every sprint")
        parser.add_argument(
            "--enqueue", action="store_true", help="let a Celery worker build it; do not wait"
        )

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            filters = json.loads(options["filters"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--filters is not JSON: {exc}") from exc
        request = {
            "sprints": [self._sprint_id(ref) for ref in options["sprints"]],
            "kind": options["kind"], "format": options["format"], "filters": filters,
        }  # fmt: skip
        try:
            dataset = start_export(user, request, enqueue_build=options["enqueue"])
        except ExportRejected as rejected:
            raise CommandError(str(rejected)) from rejected
        if options["enqueue"]:
            self.stdout.write(f"dataset {dataset.pk}: queued for a worker")
            return
        with tqdm(
            unit=" rows", desc=f"dataset {dataset.pk}", disable=options["verbosity"] == 0
        ) as bar:
            try:
                dataset = build_dataset(dataset.pk, on_rows=bar.update)
            except Exception as exc:
                raise CommandError(f"dataset {dataset.pk} failed: {exc}") from exc
        if dataset.status != ExportStatus.DONE:
            raise CommandError(f"dataset {dataset.pk} ended {dataset.status}: {dataset.error}")
        self.stdout.write(
            f"dataset {dataset.pk}: {dataset.rows} rows, sha256 {dataset.sha256}\n"
            f"{dataset.file_path} in the artifact store"
        )
        note = why_empty(dataset)
        if note:
            self.stdout.write(self.style.WARNING(note))

    @staticmethod
    def _sprint_id(ref: str) -> int:
        lookup = {"pk": int(ref)} if ref.isdigit() else {"slug": ref}
        sprint_id = Sprint.objects.filter(**lookup).values_list("pk", flat=True).first()
        if sprint_id is None:
            raise CommandError(f"no sprint {ref!r}")
        return sprint_id
