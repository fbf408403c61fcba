"""Reward-model training speed: Concord's trainer against TRL's ``RewardTrainer``, same run.

    .venv/bin/python bench/train_reward.py --file ../shared/data/hh-rlhf-harmless-1300.jsonl
    .venv/bin/python bench/train_reward.py --device cuda --seeds 0 1 2      # on a GPU
    .venv/bin/python bench/train_reward.py --train-pairs 200 --test-pairs 100   # a quick run
    .venv/bin/python bench/train_reward.py --device cpu --skip-trl --processes 2   # DDP: 1 vs 2

HH-RLHF rows are split at the Assistant turn where chosen and rejected part: the shared turns
(up to and including ``\\n\\nAssistant: ``) are the prompt, the rest of each dialogue its
response. The first ``--train-pairs`` rows train, the last ``--test-pairs`` rows test. Both
trainers get the same pairs, the packaged MiniLM, and the same epochs, batch size, learning
rate, warm-up, weight decay, gradient clipping (1.0), seed and torch thread count; dropout is
off in both (TRL's default), TRL's gradient checkpointing is off (it only trades speed for
memory, which MiniLM does not need), and bf16 autocast is used by both on CUDA only.

TRL drops pairs longer than ``max_length`` instead of truncating them, so pairs that do not fit
(in TRL's form, ``prompt + response + [SEP]``, or in ours) are removed from both sides first;
the counts kept are printed.

Timed, for each side: the training loop only, from its first optimizer step to the end of its
last (ours: the epochs' loops, without the evaluation after each epoch; TRL: its callbacks
``on_train_begin`` to ``on_train_end``, with evaluation and checkpoints turned off). Model
loading, tokenisation, evaluation and saving are outside, and both sides are first run once,
untimed (on every train pair on CUDA, on 64 on the CPU: ``--warm-up-pairs``), so that one-time
set-up, CUDA's above all, counts for neither.
``pairs/s`` = pairs x epochs / that time; CPU seconds of the process over the same span are
reported beside it, as they are less swayed by other work on a shared machine. Held-out
accuracy is the same function for both (a tie counts as wrong), each model scored on the text
form it was trained on.

``--processes N`` (N > 1) also trains our side data-parallel, in N processes under torchrun
(gloo on the CPU, one GPU each on CUDA; ``training.services.distributed``), right after the
one-process run of the same seed: pairs/s of each, the final step's loss of each and the
largest relative difference between the two loss curves (they should agree to float
rounding). On the CPU the N processes share the machine's cores (``OMP_NUM_THREADS`` = cores /
N each) against one process with every core, so a gain there comes only from running the
ranks' halves of each batch side by side.

After one epoch on a thousand HH pairs MiniLM is barely trained, so its held-out accuracy
moves by several points from one seed to the next: compare accuracies over a few seeds
(``--seeds 0 1 2``; the figures are then totals and means over the seeds, each seed's in
``per_seed``). Last line: one JSON object.
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: the model is packaged
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HUMAN, ASSISTANT = "\n\nHuman: ", "\n\nAssistant: "
TRL_EOS = "[SEP]"  # a BERT tokenizer has no EOS token; TRL needs one to close each response


def shared_prefix_length(a: str, b: str) -> int:
    """Characters ``a`` and ``b`` share from the start."""
    for position, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return position
    return min(len(a), len(b))


def split_hh(chosen: str, rejected: str) -> dict | None:
    """Prompt (the shared turns, ending with the Assistant marker) and the two replies; None
    when the dialogues do not part at an Assistant turn."""
    shared = shared_prefix_length(chosen, rejected)
    boundary = chosen.rfind(ASSISTANT, 0, shared + len(ASSISTANT))
    if boundary < 0 or chosen.rfind(HUMAN, 0, shared + len(HUMAN)) > boundary:
        return None
    if not rejected.startswith(ASSISTANT, boundary):
        return None
    start = boundary + len(ASSISTANT)
    if not chosen[start:].strip() or not rejected[start:].strip():
        return None
    return {"prompt": chosen[:start], "chosen": chosen[start:], "rejected": rejected[start:]}


def read_pairs(path: Path) -> list[dict]:
    pairs = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                pair = split_hh(row["chosen"], row["rejected"])
                if pair is not None:
                    pairs.append(pair)
    return pairs


def fits(tokenizer, rows: list[dict], max_length: int) -> list[dict]:
    """Rows whose chosen and rejected fit in ``max_length`` tokens in both trainers' forms."""
    from training.services.reward_model import encode_responses

    kept = []
    for row in rows:
        sides = ("chosen", "rejected")
        lengths = [len(tokenizer(row["prompt"] + row[s] + TRL_EOS)["input_ids"]) for s in sides]
        lengths += [
            len(encoding)
            for encoding in encode_responses(
                tokenizer, [row["prompt"]] * 2, [row[s] for s in sides], 10**6
            )
        ]
        if max(lengths) <= max_length:
            kept.append(row)
    return kept


def warm_up(config, train_rows, test_rows, device, skip_trl: bool, pairs: int) -> None:
    """Both trainers once on ``pairs`` pairs, untimed and thrown away, so that neither timed run
    pays the one-time set-up (on CUDA most likely lazily loaded kernels and the caching
    allocator's first allocation for each batch shape). On an H100 a warm-up of 64 pairs still
    left the first timed run of each side 4 times slower than the next ones; a long-lived GPU
    worker pays that once, so the timed runs should not."""
    from training.services.trainer import train_reward_model

    rows = train_rows[:pairs]
    with tempfile.TemporaryDirectory(prefix="concord-bench-warm-") as output_dir:
        train_reward_model(config, rows, test_rows[:pairs], Path(output_dir))
    if not skip_trl:
        train_trl(config, rows, test_rows[:pairs], device)
    print(f"warmed up both trainers on {len(rows)} pairs (untimed)", flush=True)


def print_progress(event) -> None:
    if event.eval is not None:
        print(f"ours: epoch {event.epoch} held-out accuracy {event.eval['accuracy']:.3f}")
    elif event.step % 10 == 0 or event.step == event.total_steps:
        print(f"ours: step {event.step}/{event.total_steps} loss {event.loss:.4f}", flush=True)


def train_trl(config, train_rows, test_rows, device) -> dict:
    import torch
    from datasets import Dataset, disable_progress_bars
    from transformers import AutoTokenizer, TrainerCallback
    from trl import RewardConfig, RewardTrainer

    from training.services.reward_model import quiet_transformers, score_encodings
    from training.services.trainer import pairwise_accuracy

    class LoopTimer(TrainerCallback):
        def on_train_begin(self, *_, **__):
            self.started, self.started_cpu = time.perf_counter(), time.process_time()

        def on_train_end(self, *_, **__):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            self.seconds = time.perf_counter() - self.started
            self.cpu_seconds = time.process_time() - self.started_cpu

    tokenizer = AutoTokenizer.from_pretrained(config.base_model, local_files_only=True)
    with tempfile.TemporaryDirectory(prefix="trl-bench-") as output_dir:
        trl_config = RewardConfig(
            output_dir=output_dir,
            max_length=config.max_length,
            eos_token=TRL_EOS,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
            num_train_epochs=config.epochs,
            max_grad_norm=config.max_grad_norm,
            seed=config.seed,
            gradient_checkpointing=False,
            bf16=device.type == "cuda" and config.bf16,
            use_cpu=device.type == "cpu",
            eval_strategy="no",
            save_strategy="no",
            logging_steps=10,
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        timer = LoopTimer()
        disable_progress_bars()
        with quiet_transformers():  # the expected "classifier newly initialised" report
            trainer = RewardTrainer(
                model=config.base_model,
                args=trl_config,
                train_dataset=Dataset.from_list(train_rows),
                processing_class=tokenizer,
                callbacks=[timer],
            )
        trainer.train()
    model = trainer.model
    # Score the test pairs in the form TRL trained on: one sequence, prompt + response + EOS.
    chosen = [row["prompt"] + row["chosen"] + TRL_EOS for row in test_rows]
    rejected = [row["prompt"] + row["rejected"] + TRL_EOS for row in test_rows]
    sequences = [torch.tensor(ids) for ids in tokenizer(chosen + rejected)["input_ids"]]
    scores = score_encodings(
        model, sequences, tokenizer.pad_token_id, device=device, bf16=trl_config.bf16
    )
    pairs = len(train_rows) * config.epochs
    return {
        "pairs_per_s": pairs / timer.seconds,
        "seconds": timer.seconds,
        "cpu_seconds": timer.cpu_seconds,
        "accuracy": pairwise_accuracy(scores[: len(test_rows)], scores[len(test_rows) :]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--file", type=Path, default=ROOT.parent / "shared/data/hh-rlhf-harmless-1300.jsonl"
    )
    parser.add_argument("--train-pairs", type=int, default=1000)
    parser.add_argument("--test-pairs", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)  # TRL's default
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="one run of each side per seed"
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both sides")
    parser.add_argument(
        "--warm-up-pairs",
        type=int,
        default=None,
        help="pairs of the untimed first run of each side (default: all on cuda, 64 on cpu)",
    )
    parser.add_argument("--skip-trl", action="store_true", help="time only our trainer")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="also train ours in this many processes (torchrun, DDP) and compare with one",
    )
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    from training.services.reward_model import resolve_device
    from training.services.trainer import DEFAULT_BASE_MODEL, TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    config = TrainConfig(
        max_length=args.max_length,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        device=str(device),
    )
    pairs = read_pairs(args.file)
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_BASE_MODEL, local_files_only=True)
    tokenizer.model_max_length = 1_000_000  # only measuring: no warning about long dialogues
    train_rows = fits(tokenizer, pairs[: args.train_pairs], args.max_length)
    test_rows = fits(tokenizer, pairs[-args.test_pairs :], args.max_length)
    print(
        f"{len(pairs)} pairs split from {args.file.name}; kept (fit in {args.max_length} tokens): "
        f"train {len(train_rows)} of {args.train_pairs}, test {len(test_rows)} of "
        f"{args.test_pairs}; device {device}, torch threads {torch.get_num_threads()}",
        flush=True,
    )
    warm_up_pairs = args.warm_up_pairs
    if warm_up_pairs is None:
        warm_up_pairs = len(train_rows) if device.type == "cuda" else 64
    warm_up(config, train_rows, test_rows, device, args.skip_trl, warm_up_pairs)

    runs = [
        run_seed(config, seed, train_rows, test_rows, device, args.skip_trl, args.processes)
        for seed in args.seeds
    ]
    result = {"device": str(device), **summarise(runs, len(train_rows) * args.epochs)}
    result.update(
        train_pairs=len(train_rows),
        test_pairs=len(test_rows),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        seeds=args.seeds,
        threads=torch.get_num_threads(),
        processes=args.processes,
        per_seed=runs,
    )
    print(json.dumps(result))


def run_seed(
    config, seed: int, train_rows, test_rows, device, skip_trl: bool, processes: int = 1
) -> dict:
    """Both trainers once with ``seed``: seconds (wall and CPU) and held-out accuracy; with
    ``processes`` > 1 ours once more in that many processes."""
    from training.services.trainer import train_reward_model

    config = dataclasses.replace(config, seed=seed)
    with tempfile.TemporaryDirectory(prefix="concord-bench-") as output_dir:
        ours = train_reward_model(
            config, train_rows, test_rows, Path(output_dir), on_progress=print_progress
        ).metrics
    run = {
        "seed": seed,
        "seconds": ours["train_seconds"],
        "cpu_seconds": ours["train_cpu_seconds"],
        "accuracy": ours["final_accuracy"],
        "final_loss": ours["train_loss"][-1]["loss"],
    }
    print(f"ours, seed {seed}: {json.dumps(run)}", flush=True)
    if processes > 1:
        run.update(run_distributed(config, train_rows, test_rows, processes, ours))
    if not skip_trl:
        trl = train_trl(config, train_rows, test_rows, device)
        run.update(
            trl_seconds=trl["seconds"],
            trl_cpu_seconds=trl["cpu_seconds"],
            trl_accuracy=trl["accuracy"],
        )
        print(f"trl, seed {seed}: {json.dumps(trl)}", flush=True)
    return run


def run_distributed(config, train_rows, test_rows, processes: int, one: dict) -> dict:
    """Ours in ``processes`` processes (torchrun, DDP) on the same seed as the one-process
    metrics ``one``: its seconds, accuracy, final loss and the largest relative difference
    between the two loss curves."""
    from training.services.distributed import train_in_processes

    with tempfile.TemporaryDirectory(prefix="concord-bench-ddp-") as output_dir:
        ddp = train_in_processes(
            config, train_rows, test_rows, Path(output_dir), world_size=processes
        ).metrics
    curves = zip(one["train_loss"], ddp["train_loss"], strict=True)
    run = {
        "ddp_seconds": ddp["train_seconds"],
        "ddp_cpu_seconds": ddp["train_cpu_seconds"],  # every rank's, summed
        "ddp_accuracy": ddp["final_accuracy"],
        "ddp_final_loss": ddp["train_loss"][-1]["loss"],
        "ddp_max_relative_loss_difference": max(
            abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in curves
        ),
    }
    print(f"ours in {processes} processes: {json.dumps(run)}", flush=True)
    return run


def summarise(runs: list[dict], pairs_per_run: int) -> dict:
    """Pairs per second over all seeds' training time; accuracy averaged over the seeds."""
    total = pairs_per_run * len(runs)

    def sum_of(key: str) -> float:
        return sum(run[key] for run in runs)

    summary = {
        "pairs_per_s": round(total / sum_of("seconds"), 2),
        "accuracy": round(sum_of("accuracy") / len(runs), 4),
        "seconds": round(sum_of("seconds"), 2),
        "cpu_seconds": round(sum_of("cpu_seconds"), 2),
    }
    summary["final_loss"] = round(sum_of("final_loss") / len(runs), 6)
    if "ddp_seconds" in runs[0]:
        summary.update(
            ddp_pairs_per_s=round(total / sum_of("ddp_seconds"), 2),
            ddp_speedup=round(sum_of("seconds") / sum_of("ddp_seconds"), 2),
            ddp_cpu_seconds=round(sum_of("ddp_cpu_seconds"), 2),
            ddp_final_loss=round(sum_of("ddp_final_loss") / len(runs), 6),
            ddp_accuracy=round(sum_of("ddp_accuracy") / len(runs), 4),
            ddp_max_relative_loss_difference=max(
                run["ddp_max_relative_loss_difference"] for run in runs
            ),
        )
    if "trl_seconds" in runs[0]:
        summary.update(
            trl_pairs_per_s=round(total / sum_of("trl_seconds"), 2),
            speedup=round(sum_of("trl_seconds") / sum_of("seconds"), 2),
            trl_accuracy=round(sum_of("trl_accuracy") / len(runs), 4),
            trl_seconds=round(sum_of("trl_seconds"), 2),
            trl_cpu_seconds=round(sum_of("trl_cpu_seconds"), 2),
            # CPU time is less swayed than wall time by other work on a shared machine.
            cpu_speedup=round(sum_of("trl_cpu_seconds") / sum_of("cpu_seconds"), 2),
        )
    return summary


if __name__ == "__main__":
    main()
