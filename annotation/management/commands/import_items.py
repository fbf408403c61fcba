"""``python manage.py import_items --sprint <slug> FILE``: the command-line door to the import
service, with a progress bar over the file's bytes."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.models import Sprint
from annotation.services.imports import ImportRejected, import_items
from annotation.services.imports.service import FORMATS


class Command(BaseCommand):
    help = "Import items from a JSONL or CSV file into a sprint: every line or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--sprint", required=True, help="slug of the sprint")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file name")
        parser.add_argument("--user", help="username recorded as the importer in the audit log")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(
        self,
        *args,
        file: Path,
        sprint: str,
        format: str | None,
        user: str | None,
        no_progress: bool,
        **options,
    ) -> None:
        try:
            target = Sprint.objects.get(slug=sprint)
        except Sprint.DoesNotExist as exc:
            raise CommandError(f"no sprint with slug {sprint!r}") from exc
        actor = None
        if user:
            try:
                actor = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"no user {user!r}") from exc
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        size = file.stat().st_size
        bar = tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=file.name,
            disable=no_progress,
            file=self.stderr._out,
        )
        try:
            with file.open("rb") as stream:
                result = import_items(
                    target,
                    stream,
                    filename=file.name,
                    file_format=format,
                    actor=actor,
                    on_bytes=bar.update,
                )
        except ImportRejected as rejected:
            bar.close()
            for problem in rejected.import_problems:
                self.stderr.write(f"{file.name}: {problem}")
            if rejected.total > len(rejected.import_problems):
                self.stderr.write(f"... and {rejected.total - len(rejected.import_problems)} more")
            raise CommandError(
                f"{file.name} rejected: {rejected.total} problem(s); nothing was imported"
            ) from None
        bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"{file.name}: {result.created} created, {result.unchanged} unchanged "
                f"in sprint {target.slug!r}"
            )
        )
