"""``python manage.py purge_feedback [--dry-run]``: the command-line door to the retention purge
(:func:`feedback.services.retention.purge_expired_text`), the same one the hourly beat task
runs. Prints the events purged (or, with ``--dry-run``, that would be) per source."""

from django.core.management.base import BaseCommand, CommandParser

from feedback.services.retention import purge_expired_text


class Command(BaseCommand):
    help = "Empty the text of feedback events past their source's retention period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be purged; change nothing"
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        report = purge_expired_text(dry_run=dry_run)
        verb = "would purge" if dry_run else "purged"
        for slug, purge in report.sources.items():
            before = f"{purge.cutoff:%Y-%m-%d %H:%M}"
            self.stdout.write(
                f"{slug}: {verb} {purge.events} events (occurred before {before} UTC)"
            )
        self.stdout.write(f"total: {verb} {report.total} events")
