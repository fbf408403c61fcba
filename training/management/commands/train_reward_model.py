"""``python manage.py train_reward_model <dataset id> [--epochs N ...]``: train a reward model
in this process, with a progress bar, through the same door as the API and the admin.

The run is recorded like any other (status, progress, metrics, artifacts under the data
directory) and, when done, registered as a candidate model version. Ctrl-C cancels it.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.models import DatasetVersion
from training.management.run_progress_bar import execute_with_progress, start_in_process

# Command-line flag -> trainer option.
FLAGS = {
    "epochs": int,
    "batch_size": int,
    "gradient_accumulation": int,
    "learning_rate": float,
    "weight_decay": float,
    "warmup_ratio": float,
    "max_length": int,
    "seed": int,
    "patience": int,  # early stopping: epochs without a better held-out accuracy
    "pooling": str,  # model or mean
}


class Command(BaseCommand):
    help = "Train a reward model from a preference dataset version, in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", type=int, help="id of a done preference dataset version")
        parser.add_argument(
            "--base-model",
            default="",
            help="model:<id>, or a name or path under CONCORD_BASE_MODEL_ROOTS; "
            "default: the packaged MiniLM",
        )
        parser.add_argument("--name", default=None, help="registry name of the model")
        for option, kind in FLAGS.items():
            parser.add_argument(f"--{option.replace('_', '-')}", type=kind, dest=option)
        parser.add_argument("--no-margin", action="store_true", help="ignore the pairs' margins")
        parser.add_argument("--no-bf16", action="store_true", help="no bf16 autocast on CUDA")
        parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps")
        parser.add_argument("--user", help="username recorded as the run's creator")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, dataset: int, **options) -> None:
        try:
            source = DatasetVersion.objects.get(pk=dataset)
        except DatasetVersion.DoesNotExist as exc:
            raise CommandError(f"no dataset version {dataset}") from exc
        actor = None
        if options["user"]:
            try:
                actor = get_user_model().objects.get(username=options["user"])
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"no user {options['user']!r}") from exc
        trainer_options = {key: options[key] for key in FLAGS if options[key] is not None}
        if options["no_margin"]:
            trainer_options["use_margin"] = False
        run = start_in_process(self, source, actor, options, trainer_options)
        run = execute_with_progress(
            self,
            run,
            describe_eval=lambda evaluation: (
                f"epoch {evaluation['epoch']}: held-out accuracy "
                f"{evaluation['accuracy']:.3f}, loss {evaluation['loss']:.4f}"
            ),
            hide=options["no_progress"],
        )
        model = run.model_version
        accuracy = run.metrics.get("final_accuracy")
        accuracy_text = f"{accuracy:.3f}" if isinstance(accuracy, int | float) else "n/a"
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {model.name} v{model.version} (candidate), model version id "
                f"{model.pk}, training run {run.pk}, held-out accuracy {accuracy_text}, "
                f"artifacts in {run.artifacts_dir}"
            )
        )
