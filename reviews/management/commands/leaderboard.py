"""``python manage.py leaderboard <sprint> [<sprint> ...] [--source judgments] [--bootstrap N]
[--seed S] [--user NAME] [--json]`` (or ``--sprints 1 2``, the same): the model leaderboard of
one or more sprints, as a table (group, rank within the group, model, rating, 95 % interval,
comparisons, then the win-rate matrix with numbered columns and their legend) or as the same
JSON the API returns. Ratings are printed as the API gives them (one decimal).

Like ``agreement``, the command is the operator's: whoever runs ``manage.py`` holds the
database already, so it needs no user. With ``--user`` it applies the API's rule for that user
(:mod:`reviews.services.leaderboard_access`: a lead of every sprint named, or a superuser;
reviewers label too, so they may not), for scripts that act on someone's behalf.
"""

import json

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from annotation.models import Sprint
from reviews.services.leaderboard import DEFAULT_BOOTSTRAP, SOURCES, leaderboard
from reviews.services.leaderboard_access import leaderboard_for

MAX_BOOTSTRAP = 2000


class Command(BaseCommand):
    help = "Bradley-Terry ratings of the response models of sprints, with bootstrap intervals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sprint", nargs="*", help="ids or slugs of the sprints")
        parser.add_argument(
            "--sprints", nargs="+", default=[], help="ids or slugs of the sprints (the same)"
        )
        parser.add_argument("--source", choices=SOURCES, default="consensus")
        parser.add_argument(
            "--bootstrap", type=int, default=DEFAULT_BOOTSTRAP, help="rounds (0..2000)"
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
        parser.add_argument("--user", help="answer only what this user may see")
        parser.add_argument("--json", action="store_true", help="print the API's JSON")

    def handle(self, *args, sprints: list[str], bootstrap: int, seed: int, **options) -> None:
        sprints = list(options["sprint"]) + list(sprints)
        if not sprints:
            raise CommandError("name at least one sprint (id or slug), e.g. leaderboard my-sprint")
        if not 0 <= bootstrap <= MAX_BOOTSTRAP:
            raise CommandError(f"--bootstrap must be from 0 to {MAX_BOOTSTRAP}")
        if not 0 <= seed < 2**32:
            raise CommandError("--seed must be from 0 to 2**32 - 1")
        targets = list({sprint.pk: sprint for sprint in map(self._sprint, sprints)}.values())
        choices = {"source": options["source"], "bootstrap": bootstrap, "seed": seed}
        if options.get("user"):
            report = self._report_for(options["user"], targets, choices)
        else:
            report = leaderboard(targets, **choices)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self._print_table(targets, report)

    def _sprint(self, reference: str) -> Sprint:
        found = Sprint.objects.filter(slug=reference).first()
        if found is None and reference.isdigit():
            found = Sprint.objects.filter(pk=int(reference)).first()
        if found is None:
            raise CommandError(f"no sprint with id or slug {reference!r}")
        return found

    def _report_for(self, username: str, sprints: list[Sprint], choices: dict) -> dict:
        """The leaderboard as ``username`` may see it; the service's refusals as errors."""
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        names = ", ".join(repr(sprint.slug) for sprint in sprints)
        try:
            return leaderboard_for(user, [sprint.pk for sprint in sprints], **choices)
        except Http404 as error:
            raise CommandError(f"{username} is not a member of every sprint of {names}") from error
        except PermissionDenied as error:
            raise CommandError(
                f"{username} is not a lead of every sprint of {names} (reviewers label too, "
                "and the leaderboard names the models)"
            ) from error

    def _print_table(self, sprints: list[Sprint], report: dict) -> None:
        write = self.stdout.write
        names = ", ".join(sprint.slug for sprint in sprints)
        write(
            f"{names}: {report['items']} items, {report['battles']} battles from "
            f"{report['source']}; 95% intervals from {report['bootstrap']} bootstrap rounds"
        )
        width = max([len(entry["model"]) for entry in report["models"]] + [5])
        header = f"{'group':>5} {'rank':>4}  {'model':<{width}} {'rating':>8} {'95% interval':>19}"
        write(f"{header} {'comparisons':>11}")
        previous = None
        for entry in report["models"]:
            if previous is not None and entry["component"] != previous:
                write("")
            previous = entry["component"]
            low, high = entry["ci"]
            interval = "—" if low is None else f"[{low:.1f}, {high:.1f}]"
            write(
                f"{entry['component']:>5} {entry['rank']:>4}  {entry['model']:<{width}} "
                f"{entry['rating']:>8.1f} {interval:>19} {entry['comparisons']:>11}"
            )
        if not report["models"]:
            write("(no battles: no item with responses of two models has a label)")
            return
        write("")
        write("win rate of the row's model against the column's (battles); columns numbered:")
        matrix = report["win_rates"]
        for number, name in enumerate(matrix["models"], start=1):
            write(f"{number:>4} = {name}")
        cell = 12
        write(
            " " * (width + 5)
            + "  ".join(f"{n:>{cell}}" for n in range(1, len(matrix["models"]) + 1))
        )
        for number, (name, rates, counts) in enumerate(
            zip(matrix["models"], matrix["rates"], matrix["comparisons"], strict=True), start=1
        ):
            cells = [
                "—" if rate is None else f"{rate:.2f} ({count})"
                for rate, count in zip(rates, counts, strict=True)
            ]
            write(f"{number:>3} {name:<{width}} " + "  ".join(f"{c:>{cell}}" for c in cells))
        skipped = report["skipped"]
        if skipped["responses_without_model"] or skipped["same_model_pairs"]:
            write(
                f"skipped: {skipped['responses_without_model']} responses without a model "
                f"name, {skipped['same_model_pairs']} pairs of the same model"
            )
        if not report["connected"]:
            write(
                "note: the models fall into groups that never met; each group is centred on 1000 "
                "and ranked on its own, so ratings and ranks compare only within a group"
            )
