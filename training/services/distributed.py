"""Data-parallel training: the reward trainer under ``torchrun``, one process per GPU (or N on CPU).

``train_in_processes`` has the signature of :func:`training.services.trainer.train_reward_model`
and the same outcome, but trains in ``world_size`` processes started by PyTorch's own launcher
(``python -m torch.distributed.run --standalone``), each running
``python -m training.distributed_train`` (DistributedDataParallel: NCCL with one GPU a process
on CUDA, gloo on CPU). How a global batch is split so that the result equals the one-process
run is in :mod:`training.services.trainer`.

The training processes need no database: the worker writes the config and the rows to a job
file, rank 0 prints one ``concord-progress`` JSON line per trainer event on its standard output
(the worker turns them back into events for ``on_progress``), the worker asks ``should_stop``
and creates a stop file that rank 0 reads before every step and broadcasts, and a rank that
raises writes its error to its own file, which becomes the run's failure reason. ``torchrun``
stops the other ranks as soon as one fails, so a crash never leaves the run hanging; a
collective that still waits gives up after ``COLLECTIVE_TIMEOUT``. A worker that dies takes
the read end of the ranks' output pipe with it: rank 0's next progress line fails, and
torchrun stops the rest, so no training outlives its worker by more than a step.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from training.services.train_config import TrainConfig

logger = logging.getLogger(__name__)

# The module each rank runs; a test may point it at a wrapper that injects a fault.
ENTRY_MODULE = "training.distributed_train"
PROGRESS_PREFIX = "concord-progress "
# How long a collective (an all-reduce, the stop broadcast) waits for a silent peer.
COLLECTIVE_TIMEOUT = timedelta(minutes=30)
ROW_KEYS = ("prompt", "chosen", "rejected", "margin")


class DistributedTrainingFailed(RuntimeError):
    """A training process failed; the message names its rank and its error."""


def world_size_for(processes: int | str, device: str | None) -> int:
    """How many training processes a run gets from ``CONCORD_TRAINING_PROCESSES``.

    ``"auto"`` is one per CUDA GPU of this machine (1 without one, or when the run asks for the
    CPU or MPS); a number is that many processes, each on its own GPU when the run trains on
    CUDA (device ``cuda``, ``cuda:N`` or automatic with a GPU present), all on the CPU
    otherwise. MPS always trains in one process. Raises ValueError when more GPU processes are
    asked for than this machine has GPUs."""
    import torch

    if device is not None and device.startswith("mps"):
        return 1
    gpus = torch.cuda.device_count()
    on_cuda = (device or "").startswith("cuda") or (device is None and gpus > 0)
    if processes == "auto":
        return max(1, gpus) if on_cuda else 1
    count = int(processes)
    if on_cuda and count > gpus:
        raise ValueError(
            f"CONCORD_TRAINING_PROCESSES is {count}, but this worker has {gpus} CUDA GPU(s)."
        )
    return count


def torchrun_command(world_size: int, job_file: Path) -> list[str]:
    """The command line that trains ``job_file`` in ``world_size`` local processes."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # one machine: a local rendezvous on a free port
        f"--nproc-per-node={world_size}",
        "--monitor-interval=0.5",  # how soon a failed rank is noticed and the others stopped
        "-m",
        ENTRY_MODULE,
        "--job",
        str(job_file),
    ]


def _child_environment(world_size: int, device: str) -> dict[str, str]:
    """The worker's environment, with CPU threads shared out between CPU ranks (torchrun would
    give each one thread) and this project importable from any working directory."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    if device == "cpu" and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // world_size))
    return env


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def _failure_reason(error_dir: Path, world_size: int, returncode: int, tail: deque) -> str:
    """The first rank's error (the earliest error file: the others fail because it did), or
    torchrun's last words when no rank could write one (killed by a signal, out of memory)."""
    errors = sorted(error_dir.glob("rank-*.error"), key=lambda path: path.stat().st_mtime_ns)
    if errors:
        rank = errors[0].stem.removeprefix("rank-")
        return f"Rank {rank} of {world_size} failed: {errors[0].read_text().strip()}"
    last = next((line.strip() for line in reversed(tail) if line.strip()), "no output")
    return f"torchrun exited with code {returncode} ({world_size} processes): {last}"


def train_in_processes(
    config: TrainConfig,
    train_rows: Sequence[Mapping],
    test_rows: Sequence[Mapping],
    output_dir: Path,
    *,
    world_size: int,
    on_progress: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_seconds: float = 1.0,
):
    """Train like :func:`~training.services.trainer.train_reward_model`, in ``world_size``
    processes under ``torchrun``; returns its ``TrainResult`` (rank 0's metrics, read back
    from ``metrics.json``). ``on_progress`` gets rank 0's events as they come;
    ``should_stop`` is asked at least every ``poll_seconds`` and, once true, stops every rank
    at its next step (raising ``TrainingCancelled``). A failed rank raises
    :class:`DistributedTrainingFailed` with its error; every training process has ended when
    this returns or raises."""
    from training.services.trainer import ProgressEvent, TrainingCancelled, TrainResult

    device = "cuda" if (config.device or "").startswith("cuda") else (config.device or "cpu")
    if config.device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory(prefix="concord-ddp-") as staging:
        staging_dir = Path(staging)
        job_file = staging_dir / "job.json"
        stop_file = staging_dir / "stop"
        job = {
            "config": {**config.to_dict(), "device": device},
            "train_rows": [{key: row.get(key) for key in ROW_KEYS} for row in train_rows],
            "test_rows": [{key: row.get(key) for key in ROW_KEYS} for row in test_rows],
            "output_dir": str(output_dir),
            "stop_file": str(stop_file),
            "error_dir": str(staging_dir),
            "backend": "nccl" if device == "cuda" else "gloo",
            "collective_timeout_seconds": COLLECTIVE_TIMEOUT.total_seconds(),
        }
        job_file.write_text(json.dumps(job, default=str))
        process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
            torchrun_command(world_size, job_file),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_child_environment(world_size, device),
            start_new_session=True,  # its own process group, so every rank can be stopped
        )
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        tail: deque[str] = deque(maxlen=40)
        stop_requested = False
        try:
            while True:
                try:
                    line = lines.get(timeout=poll_seconds)
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if line.startswith(PROGRESS_PREFIX):
                    if on_progress is not None:
                        on_progress(ProgressEvent(**json.loads(line[len(PROGRESS_PREFIX) :])))
                elif line:
                    tail.append(line)
                    logger.info("torchrun: %s", line.rstrip())
                if not stop_requested and should_stop is not None and should_stop():
                    stop_requested = True
                    stop_file.touch()
            returncode = process.wait()
        except BaseException:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
        finally:
            reader.join(timeout=5)
            process.stdout.close()
        if stop_requested and returncode == 0 and not (output_dir / "metrics.json").exists():
            raise TrainingCancelled("Training was cancelled.")
        if returncode != 0:
            raise DistributedTrainingFailed(
                _failure_reason(staging_dir, world_size, returncode, tail)
            )
    metrics = json.loads((Path(output_dir) / "metrics.json").read_text())
    return TrainResult(metrics=metrics, output_dir=Path(output_dir))
