"""``python manage.py train_reward_model <dataset id> [--epochs N ...]``: train a reward model
in this process, with a progress bar, through the same door as the API and the admin.

The run is recorded like any other (status, progress, metrics, artifacts under the data
directory) and, when done, registered as a candidate model version. Ctrl-C cancels it.
"""

import shutil

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from exports.models import DatasetVersion
from training.models import RunStatus
from training.services.datasets import DatasetUnusable
from training.services.run_options import RunOptionsInvalid
from training.services.runs import (
    execute_training_run,
    finish_run,
    run_output_dir,
    start_training_run,
)

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
        if options["no_bf16"]:
            trainer_options["bf16"] = False
        if options["device"]:
            trainer_options["device"] = options["device"]
        try:
            run = start_training_run(
                source,
                actor=actor,
                base_model=options["base_model"],
                name=options["name"],
                options=trainer_options,
                enqueue=False,
            )
        except (DatasetUnusable, RunOptionsInvalid) as rejected:
            raise CommandError(str(rejected)) from None
        self.stdout.write(f"Training run {run.pk}: {run.model_name} from dataset {source.pk}")
        bar = tqdm(unit="step", disable=options["no_progress"], file=self.stderr._out)

        def show(event) -> None:
            if bar.total != event.total_steps:
                bar.total = event.total_steps
            bar.update(event.step - bar.n)
            if event.eval is not None:
                # Results go to stdout, above the bar (which is on stderr).
                bar.write(
                    f"epoch {event.eval['epoch']}: held-out accuracy "
                    f"{event.eval['accuracy']:.3f}, loss {event.eval['loss']:.4f}",
                    file=self.stdout._out,
                )
            elif event.loss is not None:
                bar.set_postfix(loss=f"{event.loss:.4f}", epoch=event.epoch)

        try:
            run = execute_training_run(run.pk, on_event=show)
        except KeyboardInterrupt:
            bar.close()
            finish_run(run.pk, RunStatus.CANCELLED, error="Interrupted from the keyboard.")
            shutil.rmtree(run_output_dir(run.pk)[0], ignore_errors=True)
            raise CommandError(f"training run {run.pk} cancelled") from None
        bar.close()
        if run is None or run.status != RunStatus.DONE:
            reason = run.error if run is not None else "it was not queued"
            raise CommandError(f"training run failed: {reason}")
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
