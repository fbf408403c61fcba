"""``python manage.py issue_ingest_token --source SLUG --name NAME --by USERNAME``: an ingest
key for a product's backend, printed once (only its hash is stored). ``--by`` is the lead who
answers for it: they must lead every source named, as in the admin."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotation.services.errors import ConcordError
from feedback.models import FeedbackSource
from feedback.services.ingest_tokens import issue_token


class Command(BaseCommand):
    help = "Issue an ingest token for feedback sources and print its key (shown once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", action="append", required=True, help="a source's slug")
        parser.add_argument("--name", required=True, help="what the token is for")
        parser.add_argument("--by", required=True, help="the username of a lead of the sources")

    def handle(self, *args, **options) -> None:
        actor = get_user_model().objects.filter(username=options["by"], is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user {options['by']!r}.")
        slugs = options["source"]
        sources = list(FeedbackSource.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {s.slug for s in sources})
        if missing:
            raise CommandError(f"No such feedback source: {', '.join(missing)}.")
        try:
            issued = issue_token(actor, options["name"], sources)
        except ConcordError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(issued.key)
        self.stderr.write(f"Token {issued.token.prefix}… for {', '.join(slugs)}; keep the key.")
