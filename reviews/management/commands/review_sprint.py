"""``python manage.py review_sprint <sprint id or slug> [--method M] [--consensus-only]``:
recompute a sprint's consensus labels and open the disputes its items call for (the same sweep
as the Celery task ``reviews.tasks.review_sprint``), then print the counts as JSON.

``--method`` labels with one method (unanimous, majority, dawid_skene, bradley_terry) instead
of the ``auto`` policy, and implies ``--consensus-only``: disputes are a matter of the rules,
not of a method. Adjudicated labels are never replaced.
"""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Sprint
from reviews.services.consensus import AUTO, METHODS, compute_consensus
from reviews.services.disputes import review_sprint


class Command(BaseCommand):
    help = "Recompute a sprint's consensus labels and open the disputes its items call for."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sprint", help="id or slug of the sprint")
        parser.add_argument("--method", default=AUTO, choices=[str(m) for m in METHODS])
        parser.add_argument(
            "--consensus-only", action="store_true", help="recompute labels, open no disputes"
        )

    def handle(self, *args, sprint: str, method: str, consensus_only: bool, **options) -> None:
        target = Sprint.objects.filter(slug=sprint).first()
        if target is None and sprint.isdigit():
            target = Sprint.objects.filter(pk=int(sprint)).first()
        if target is None:
            raise CommandError(f"no sprint with id or slug {sprint!r}")
        if consensus_only or method != AUTO:
            counts = {"consensus": compute_consensus(target, method=method)}
        else:
            counts = review_sprint(target)
        self.stdout.write(json.dumps(counts, indent=2, sort_keys=True))
