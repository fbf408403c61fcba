"""``python manage.py sample_feedback <sprint> --user <lead> --n N``: draw a stratified sample
of feedback events into a sprint's items, through the same door as the API
(:func:`feedback.services.sampling.start_sample`, the same body and checks).

It runs in this process with a progress bar of the items drawn; ``--enqueue`` hands it to a
worker instead and prints the sample's id (``GET /api/v1/feedback/samples/{id}``). The report
(drawn per stratum, skipped by reason) is printed as JSON.
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.models import Sprint
from annotation.services.errors import ConcordError
from feedback.models import SampleStatus
from feedback.services.sampling import run_sample, start_sample


class Command(BaseCommand):
    help = "Draw a stratified sample of feedback events into a sprint's items."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sprint", help="slug or id of the sprint to fill")
        parser.add_argument("--user", required=True, help="a lead of the sprint and sources")
        parser.add_argument("--n", type=int, required=True, help="items to draw")
        parser.add_argument("--source", action="append", help="a source's slug (repeatable)")
        parser.add_argument("--field", default="stratum", help="the strata's field")
        parser.add_argument("--weights", help="billing=2,auth=1 (default: equal allocation)")
        parser.add_argument("--redistribute", action="store_true", help="refill short strata")
        parser.add_argument("--filters", default="{}", help="more filters, as the API's JSON")
        parser.add_argument("--seed", type=int, help="default: a random seed, kept")
        parser.add_argument("--enqueue", action="store_true", help="hand it to a worker")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, sprint: str, **options) -> None:
        lookup = {"pk": int(sprint)} if sprint.isdigit() else {"slug": sprint}
        target = Sprint.objects.filter(**lookup).first()
        if target is None:
            raise CommandError(f"no sprint {sprint!r}")
        actor = get_user_model().objects.filter(username=options["user"]).first()
        if actor is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            body = {"n": options["n"], "filters": json.loads(options["filters"]),
                    "strata": _strata(options)}  # fmt: skip
        except ValueError as bad:
            raise CommandError(f"bad --filters or --weights: {bad}") from None
        if options["source"]:
            body["filters"]["source"] = options["source"]
        if options["seed"] is not None:
            body["seed"] = options["seed"]
        try:
            sample = start_sample(actor, target, body, enqueue=options["enqueue"])
        except ConcordError as refused:
            raise CommandError("; ".join(_lines(refused))) from None
        if options["enqueue"]:
            self.stdout.write(f"Sample {sample.pk} is queued for a worker.")
            return
        bar = tqdm(total=sample.n, unit="item", disable=options["no_progress"],
                   file=self.stderr._out)  # fmt: skip
        done = run_sample(sample.pk, on_progress=lambda drawn, n: bar.update(drawn - bar.n))
        bar.close()
        if done is None or done.status != SampleStatus.DONE:
            raise CommandError(f"sample failed: {done.error if done else 'not queued'}")
        self.stdout.write(json.dumps(done.report, indent=2))
        self.stdout.write(self.style.SUCCESS(f"Sample {done.pk}: {done.report['drawn']} items."))


def _strata(options: dict) -> dict:
    strata = {"field": options["field"], "redistribute": options["redistribute"]}
    if options["weights"]:
        pairs = (pair.split("=", 1) for pair in options["weights"].split(","))
        strata["weights"] = {name.strip(): float(weight) for name, weight in pairs}
    return strata


def _lines(refused: ConcordError) -> list[str]:
    return [f"{p.get('field', '')}: {p['message']}".lstrip(": ") for p in refused.problems]
