"""DPO training speed: Concord's dpo run against a plain TRL ``DPOTrainer`` script, same run.

    .venv/bin/python bench/train_policy.py                      # CPU, the tiny causal LM
    .venv/bin/python bench/train_policy.py --base-model /models/Qwen2.5-0.5B-Instruct \\
        --pairs 512 --max-length 512 --batch-size 8             # a GPU with a real model
    .venv/bin/python bench/train_policy.py --lora               # both sides train LoRA

Our side is the real path: a preference dataset version (a JSONL file in the data directory, as
an export leaves it), ``start_training_run(kind="dpo")`` and ``execute_training_run`` in this
process (the progress writer, cancel check and heartbeat of a worker included), its
``pairs_per_s`` read from the run's metrics. The baseline is the script a user of TRL would
write: load the model and tokenizer, ``DPOConfig`` with the same settings, ``DPOTrainer(model,
ref_model=None, ...)``, ``train()``.

Both get the same pairs (the grounded task of ``tests/support/tiny_causal_lm.py``: a prompt
with two context documents, rendered as Concord's export renders it, the answer citing the
right document chosen), the same model, epochs, batch size, learning rate, beta, loss, max
length, seed, warm-up, weight decay, gradient clipping and thread count; bf16 on CUDA only,
gradient checkpointing off on both (TRL's own default is on) unless ``--gradient-checkpointing``;
with ``--lora`` the same LoRA settings. Only the training loop is timed, the same way on both
sides: from the callbacks' ``on_train_begin`` to ``on_train_end`` (ours leaves out its
held-out evaluation after each epoch, as its metrics report it; the baseline evaluates nothing).
Model loading, tokenisation and saving are outside. ``pairs/s`` = pairs x epochs / that time.
CPU seconds of the process over the same span are reported beside (``pairs_per_cpu_s``,
``cpu_ratio``): steadier than wall time on a shared machine. The sides take turns going first
for ``--repeats`` rounds; the figures are medians, each round's beside them.

Database: PostgreSQL when ``DATABASE_URL`` names one (recreated, as the other benches do),
otherwise the embedded SQLite in a scratch data directory. Last line: one JSON object.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-model", help="a local causal LM directory; default: the tiny one")
    parser.add_argument("--pairs", type=int, default=512, help="training pairs")
    parser.add_argument("--test-pairs", type=int, default=32, help="held-out pairs (ours only)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=5e-6)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--loss-type", default="sigmoid")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None, help="cpu or cuda; default: cuda if any")
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    return parser.parse_args()


def setup_django() -> None:
    """PostgreSQL from DATABASE_URL (recreated), else SQLite in a scratch data directory."""
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.path.insert(0, str(ROOT / "bench"))
        from fresh_database import setup_fresh_database

        setup_fresh_database("bench/train_policy.py")
        return
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("CONCORD_DATA_DIR", tempfile.mkdtemp(prefix="concord-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concord.settings")
    os.environ.setdefault("CONCORD_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def grounded_rows(count: int, seed: int, split: str) -> list[dict]:
    """Preference rows of the grounded task, written as a standard-form export writes them."""
    from exports.services.prompt_rendering import PromptRendering
    from tests.support.tiny_causal_lm import grounded_items

    rendering = PromptRendering()
    rows = []
    for item in grounded_items(count, seed):
        chosen, rejected = (response["text"] for response in item["responses"])
        rows.append({
            "prompt": rendering.prompt(item["prompt"], item["context"]),
            "chosen": chosen, "rejected": rejected, "margin": None,
            "item_id": f"{split}-{item['external_id']}", "split": split,
        })  # fmt: skip
    return rows


def dataset_version(rows: list[dict]):
    """A done preference dataset version of ``rows`` (its JSONL under the data directory) of a
    sprint led by a new user; (dataset, lead)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from annotation.models import Rubric, Sprint, SprintMember, SprintRole
    from exports.models import DatasetVersion

    lead = get_user_model().objects.create_user("bench-lead", password="x", is_staff=True)
    sprint = Sprint.objects.create(
        name="Bench", slug="bench", rubric=Rubric.objects.create(name="Bench rubric")
    )
    SprintMember.objects.create(sprint=sprint, user=lead, role=SprintRole.LEAD)
    relative = Path("exports") / "bench-policy.jsonl"
    path = Path(settings.DATA_DIR) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    dataset = DatasetVersion.objects.create(
        kind="preference", format="jsonl", status="done", rows=len(rows),
        file_path=relative.as_posix(), created_by=lead,
    )  # fmt: skip
    dataset.sprints.set([sprint])
    return dataset, lead


def ours(dataset, lead, base_model: str, options: dict) -> dict:
    """One dpo run through start_training_run and execute_training_run; its metrics."""
    from training.services.runs import execute_training_run, start_training_run

    run = start_training_run(
        dataset, actor=lead, base_model=base_model, options=options, enqueue=False, kind="dpo"
    )
    run = execute_training_run(run.pk)
    if run.status != "done":
        sys.exit(f"our run failed: {run.error}")
    return run.metrics


def plain_trl(base_model: str, rows: list[dict], args: argparse.Namespace, device: str) -> dict:
    """The plain TRL script: load, configure, train; the loop's time from its callbacks."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    class LoopTimer(TrainerCallback):
        def on_train_begin(self, *_, **__):
            self.started, self.started_cpu = now(), time.process_time()

        def on_train_end(self, *_, **__):
            self.seconds = now() - self.started
            self.cpu_seconds = time.process_time() - self.started_cpu

    def now() -> float:
        if device == "cuda":
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype="float32")
    peft_config = None
    if args.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
            task_type="CAUSAL_LM",
        )  # fmt: skip
    steps = -(-len(rows) // args.batch_size) * args.epochs
    config = DPOConfig(
        output_dir=tempfile.mkdtemp(prefix="trl-dpo-"),
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs,
        learning_rate=args.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=-(-steps // 10),
        beta=args.beta,
        loss_type=[args.loss_type],
        max_length=args.max_length,
        seed=args.seed,
        bf16=device == "cuda",
        use_cpu=device == "cpu",
        gradient_checkpointing=args.gradient_checkpointing,
        max_grad_norm=1.0,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    timer = LoopTimer()
    dataset = Dataset.from_list(
        [{k: row[k] for k in ("prompt", "chosen", "rejected")} for row in rows]
    )
    trainer = DPOTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
        peft_config=peft_config, callbacks=[timer],
    )  # fmt: skip
    trainer.train()
    kept = len(trainer.train_dataset)
    return {
        "pairs_per_s": kept * args.epochs / timer.seconds,
        "pairs_per_cpu_s": kept * args.epochs / timer.cpu_seconds,
    }


def main() -> None:
    args = parse_args()
    setup_django()
    import torch
    from django.conf import settings

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.base_model:
        base_model = str(Path(args.base_model).resolve())
    else:
        from tests.support.tiny_causal_lm import save_tiny_causal_lm

        base_model = save_tiny_causal_lm(Path(tempfile.mkdtemp(prefix="tiny-lm-")) / "tiny")
    settings.CONCORD_BASE_MODEL_ROOTS = [str(Path(base_model).parent)]
    train = grounded_rows(args.pairs, args.seed, "train")
    test = grounded_rows(args.test_pairs, args.seed + 1, "test")
    dataset, lead = dataset_version(train + test)
    options = {
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
        "beta": args.beta, "loss_type": args.loss_type, "max_length": args.max_length,
        "seed": args.seed, "device": device, "lora": args.lora,
        "gradient_checkpointing": args.gradient_checkpointing,
    }  # fmt: skip
    print(
        f"device {device}, model {base_model}, {len(train)} pairs x {args.epochs} epochs, "
        f"batch {args.batch_size}, max length {args.max_length}, lora {args.lora}, "
        f"torch threads {torch.get_num_threads()}",
        flush=True,
    )
    rounds = []
    for repeat in range(args.repeats):
        # Alternate which side goes first, so that drift in the machine's load evens out.
        if repeat % 2:
            baseline = plain_trl(base_model, train, args, device)
            metrics = ours(dataset, lead, base_model, options)
        else:
            metrics = ours(dataset, lead, base_model, options)
            baseline = plain_trl(base_model, train, args, device)
        cpu_pairs = metrics["train_pairs"] * args.epochs / metrics["train_cpu_seconds"]
        rounds.append({
            "ours": metrics["pairs_per_s"], "trl": baseline["pairs_per_s"],
            "ours_per_cpu_s": cpu_pairs, "trl_per_cpu_s": baseline["pairs_per_cpu_s"],
        })  # fmt: skip
        print(
            f"round {repeat + 1}: ours {metrics['pairs_per_s']:.1f} pairs/s, plain TRL "
            f"{baseline['pairs_per_s']:.1f} pairs/s; held-out margin "
            f"{metrics['base_eval']['margin']:.3f} -> {metrics['final_eval']['margin']:.3f}",
            flush=True,
        )
    ours_median = statistics.median(r["ours"] for r in rounds)
    trl_median = statistics.median(r["trl"] for r in rounds)
    ours_cpu = statistics.median(r["ours_per_cpu_s"] for r in rounds)
    trl_cpu = statistics.median(r["trl_per_cpu_s"] for r in rounds)
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "pairs_per_s": round(ours_median, 2),
        "trl_pairs_per_s": round(trl_median, 2),
        "ratio": round(ours_median / trl_median, 3),
        # Per CPU second of this process: steadier than wall time on a shared machine.
        "pairs_per_cpu_s": round(ours_cpu, 2),
        "trl_pairs_per_cpu_s": round(trl_cpu, 2),
        "cpu_ratio": round(ours_cpu / trl_cpu, 3),
        "pairs": len(train),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "lora": args.lora,
        "model": Path(base_model).name,
        "repeats": args.repeats,
        "rounds": rounds,
        "held_out_margin": {
            "base": metrics["base_eval"]["margin"],
            "trained": metrics["final_eval"]["margin"],
        },
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
