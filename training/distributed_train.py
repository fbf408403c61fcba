"""One rank of a data-parallel training run: ``python -m training.distributed_train --job FILE``.

Started by ``torchrun`` (see :mod:`training.services.distributed`), which sets ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous. The rank joins the process group (NCCL on its
own GPU, ``cuda:LOCAL_RANK``, or gloo on the CPU), trains the job's rows with
:func:`training.services.trainer.train_reward_model` (DistributedDataParallel inside), and leaves.
Rank 0 prints each progress event as one JSON line, reads the stop file and writes the
artifacts. A rank that raises writes ``rank-<N>.error`` ("Type: message") into the job's
error directory, then exits non-zero so that torchrun stops the others. A cancelled run exits 0
without artifacts. No Django here: the worker that started torchrun owns the database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record

from training.services.distributed import PROGRESS_PREFIX
from training.services.trainer import (
    ProgressEvent,
    TrainConfig,
    TrainingCancelled,
    train_reward_model,
)


def print_event(event: ProgressEvent) -> None:
    print(PROGRESS_PREFIX + json.dumps(asdict(event)), flush=True)


def train_job(job: dict) -> None:
    """Join the process group, train the job on this rank, leave the group."""
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    config = TrainConfig(**job["config"])
    if job["backend"] == "nccl":
        torch.cuda.set_device(local_rank)
        config.device = f"cuda:{local_rank}"
    dist.init_process_group(
        backend=job["backend"], timeout=timedelta(seconds=job["collective_timeout_seconds"])
    )
    try:
        stop_file = Path(job["stop_file"])
        train_reward_model(
            config,
            job["train_rows"],
            job["test_rows"],
            Path(job["output_dir"]),
            on_progress=print_event if rank == 0 else None,
            should_stop=stop_file.exists if rank == 0 else None,
        )
    finally:
        dist.destroy_process_group()


@record  # torchrun's failure summary then carries this rank's traceback
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", required=True, type=Path, help="the job file the worker wrote")
    args = parser.parse_args(argv)
    job = json.loads(args.job.read_text())
    try:
        train_job(job)
    except TrainingCancelled:
        _exit_now(0)
    except BaseException as error:
        error_file = Path(job["error_dir"]) / f"rank-{os.environ.get('RANK', '?')}.error"
        error_file.write_text(f"{type(error).__name__}: {error}")
        traceback.print_exc()
        _exit_now(1)
    return 0


def _exit_now(status: int) -> NoReturn:
    """Leave at once, without unwinding. A training that ended by an exception still holds the
    DistributedDataParallel model in the traceback's frames; freeing it after the process group
    was destroyed runs gloo's destructor with the GIL held while gloo's worker thread waits for
    the GIL, and the rank hangs for ever (seen under load on a cancel). Nothing is left to save:
    rank 0 wrote its artifacts and events already, and the error file says what failed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
