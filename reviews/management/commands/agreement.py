"""``python manage.py agreement <sprint id or slug> [--bootstrap N] [--json]``: the sprint's
agreement report, as a table or as the same JSON the API returns."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from annotation.models import Sprint
from reviews.services.agreement import sprint_agreement

MAX_BOOTSTRAP = 5000


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class Command(BaseCommand):
    help = "Krippendorff's alpha per criterion and per-annotator figures of a sprint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sprint", help="id or slug of the sprint")
        parser.add_argument("--bootstrap", type=int, default=1000, help="resamples (0..5000)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
        parser.add_argument("--until", help="ISO 8601 time: the sprint as it stood then")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, sprint: str, bootstrap: int, seed: int, **options) -> None:
        target = self._sprint(sprint)
        if not 0 <= bootstrap <= MAX_BOOTSTRAP:
            raise CommandError(f"--bootstrap must be from 0 to {MAX_BOOTSTRAP}")
        if seed < 0:
            raise CommandError("--seed must not be negative")
        until = None
        if options.get("until"):
            until = parse_datetime(options["until"])
            if until is None:
                raise CommandError("--until must be an ISO 8601 time, e.g. 2026-05-01T12:00Z")
        report = sprint_agreement(target, bootstrap=bootstrap, seed=seed, until=until)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self._print_table(target, report)

    def _sprint(self, reference: str) -> Sprint:
        found = Sprint.objects.select_related("rubric").filter(slug=reference).first()
        if found is None and reference.isdigit():
            found = Sprint.objects.select_related("rubric").filter(pk=int(reference)).first()
        if found is None:
            raise CommandError(f"no sprint with id or slug {reference!r}")
        return found

    def _print_table(self, sprint: Sprint, report: dict) -> None:
        write = self.stdout.write
        write(
            f"{sprint.name} ({sprint.slug}): {report['items']} items, "
            f"{report['judgments']} judgments"
        )
        write(
            f"{'criterion':<24} {'level':<9} {'alpha':>7} {'95% CI':>17} {'agree':>7} {'items':>7}"
        )
        for name, figures in report["criteria"].items():
            low, high = figures["ci"]
            interval = f"[{_number(low)}, {_number(high)}]" if low is not None else "—"
            write(
                f"{name:<24} {figures['level']:<9} {_number(figures['alpha']):>7} "
                f"{interval:>17} {_number(figures['percent_agreement']):>7} "
                f"{figures['items']:>7}"
            )
        write("")
        write(
            f"{'annotator':<20} {'judgments':>9} {'consensus':>9} {'gold':>6} "
            f"{'median s':>8} {'skips':>6}  outlier"
        )
        for entry in report["annotators"]:
            seconds = entry["median_seconds"]
            write(
                f"{entry['username'][:20]:<20} {entry['judgments']:>9} "
                f"{_number(entry['consensus_agreement']):>9} "
                f"{_number(entry['gold_accuracy'], 2):>6} "
                f"{_number(seconds, 1):>8} {_number(entry['skip_rate'], 2):>6}  "
                f"{'; '.join(entry['outlier_reasons']) if entry['outlier'] else ''}"
            )
