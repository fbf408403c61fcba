"""Starting a run from a management command and executing it in the command's own process with
a progress bar on stderr: what ``train_reward_model`` and ``train_policy`` share. Ctrl-C cancels
the run."""

import shutil
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.services.errors import ConcordError
from exports.models import DatasetVersion
from training.models import RunKind, RunStatus, TrainingRun
from training.services.runs import (
    execute_training_run,
    finish_run,
    run_output_dir,
    start_training_run,
)


def start_in_process(
    command: BaseCommand,
    dataset: DatasetVersion,
    actor: Any,
    options: dict[str, Any],
    run_options: dict[str, Any],
    *,
    kind: str = RunKind.REWARD,
) -> TrainingRun:
    """Store a queued run of ``kind`` for the command's ``options`` (``base_model``, ``name``,
    ``no_bf16``, ``device``) and ``run_options``, not enqueued, and say so on stdout; a refusal
    (a bad option, an unusable dataset) is a CommandError and nothing is stored."""
    run_options = dict(run_options)
    if options["no_bf16"]:
        run_options["bf16"] = False
    if options["device"]:
        run_options["device"] = options["device"]
    try:
        run = start_training_run(
            dataset,
            actor=actor,
            base_model=options["base_model"],
            name=options["name"],
            options=run_options,
            enqueue=False,
            kind=kind,
        )
    except ConcordError as rejected:
        raise CommandError(str(rejected)) from None
    command.stdout.write(f"Training run {run.pk}: {run.model_name} from dataset {dataset.pk}")
    return run


def execute_with_progress(
    command: BaseCommand,
    run: TrainingRun,
    *,
    describe_eval: Callable[[dict[str, Any]], str],
    hide: bool = False,
) -> TrainingRun:
    """Execute queued ``run`` here, a bar counting its steps (the loss beside it) and one
    line on stdout per epoch's evaluation (``describe_eval``). Returns the done run; raises
    CommandError when it failed, or was interrupted from the keyboard (then cancelled)."""
    bar = tqdm(unit="step", disable=hide, file=command.stderr._out)

    def show(event) -> None:
        if bar.total != event.total_steps:
            bar.total = event.total_steps
        bar.update(event.step - bar.n)
        if event.eval is not None:
            # Results go to stdout, above the bar (which is on stderr).
            bar.write(describe_eval(event.eval), file=command.stdout._out)
        elif event.loss is not None:
            bar.set_postfix(loss=f"{event.loss:.4f}", epoch=event.epoch)

    try:
        finished = execute_training_run(run.pk, on_event=show)
    except KeyboardInterrupt:
        bar.close()
        finish_run(run.pk, RunStatus.CANCELLED, error="Interrupted from the keyboard.")
        shutil.rmtree(run_output_dir(run.pk)[0], ignore_errors=True)
        raise CommandError(f"training run {run.pk} cancelled") from None
    bar.close()
    if finished is None or finished.status != RunStatus.DONE:
        reason = finished.error if finished is not None else "it was not queued"
        raise CommandError(f"training run failed: {reason}")
    return finished
