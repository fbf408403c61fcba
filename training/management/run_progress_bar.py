"""Executing a run in a management command's own process with a progress bar on stderr: the
one loop ``train_reward_model`` and ``train_policy`` share. Ctrl-C cancels the run."""

import shutil
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from training.models import RunStatus, TrainingRun
from training.services.runs import execute_training_run, finish_run, run_output_dir


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
