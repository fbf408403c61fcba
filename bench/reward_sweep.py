"""Which reward-model settings train the best model on the shared HH-RLHF harmless pairs.

    .venv/bin/python bench/reward_sweep.py                      # the whole screen, seed 0
    .venv/bin/python bench/reward_sweep.py --only centre lr_1e-4 --seeds 0 1 2
    .venv/bin/python bench/reward_sweep.py --only defaults --seeds 0 1 2   # TrainConfig as is
    .venv/bin/python bench/reward_sweep.py --table-only          # print the table of the results

Rows are read as the importer reads HH-RLHF (the shared turns up to the Assistant reply where
chosen and rejected part are the prompt, as chat messages; the rest of each dialogue the two
responses), and split 80/20 by the export's own rule, ``split_of(prompt_text, 0.2, seed=0)``,
so the held-out pairs are those a dataset version exported with a 0.2 test share would hold.

Each run trains with the trainer (``train_reward_model``) on ``--threads`` torch threads and
appends one JSON line to ``--results``: the settings, the held-out accuracy after each epoch,
the best epoch, the accuracy of the model the trainer kept (the best epoch's), wall seconds and
CPU seconds of the whole run (loading, tokenising, training, evaluating). A run already in the
results file (same label, settings and seed) is skipped, so an interrupted sweep resumes.

The screen varies one factor at a time around a centre (``CENTRE``); each run goes its full
``epochs`` (``patience`` = ``epochs``) so that its whole per-epoch curve is recorded. Early
stopping picks the epoch on the same held-out split it reports: the kept accuracy is an upper
estimate of what an unseen split would see. Prints a markdown table (mean and per-seed kept
accuracy per setting) and, last, one JSON object.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_FILE = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-1300.jsonl"
TEST_FRACTION, SPLIT_SEED = 0.2, 0

# The settings the screen varies, one at a time, around this centre.
CENTRE = {
    "learning_rate": 5e-5,
    "epochs": 3,
    "batch_size": 16,
    "max_length": 256,
    "pooling": "mean",
    "warmup_ratio": 0.1,
}
SCREEN = {
    "centre": {},
    "pool_model": {"pooling": "model"},
    "old_default": {"pooling": "model", "epochs": 1},  # TrainConfig's defaults before the sweep
    "lr_2e-5": {"learning_rate": 2e-5},
    "lr_1e-4": {"learning_rate": 1e-4},
    "lr_2e-4": {"learning_rate": 2e-4},
    "len_128": {"max_length": 128},
    "batch_8": {"batch_size": 8},
    "batch_32": {"batch_size": 32},
    "warmup_0": {"warmup_ratio": 0.0},
    "epochs_2": {"epochs": 2},
    "epochs_4": {"epochs": 4},
    # Second round, around the chosen learning rate (1e-4) instead of the centre's 5e-5.
    "lr_1e-4_batch_32": {"learning_rate": 1e-4, "batch_size": 32},
    "lr_1e-4_len_128": {"learning_rate": 1e-4, "max_length": 128},
    "lr_1e-4_len_512": {"learning_rate": 1e-4, "max_length": 512},
    "lr_1e-4_warmup_0": {"learning_rate": 1e-4, "warmup_ratio": 0.0},
    "lr_1.5e-4_batch_32": {"learning_rate": 1.5e-4, "batch_size": 32},
    "lr_1e-4_batch_8": {"learning_rate": 1e-4, "batch_size": 8},
    "lr_1e-4_epochs_4": {"learning_rate": 1e-4, "epochs": 4},
}


def read_rows(path: Path) -> tuple[list[dict], list[dict]]:
    """The file's HH rows as (train, test) pairs, split by the export's prompt-hash rule."""
    from annotation.services.imports.records import _split_hh
    from exports.services.prompt_rendering import prompt_text
    from exports.services.rows import split_of

    train, test = [], []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            prompt, chosen, rejected = _split_hh(row["chosen"], row["rejected"])
            pair = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
            side = split_of(prompt_text(prompt), TEST_FRACTION, seed=SPLIT_SEED)
            (test if side == "test" else train).append(pair)
    return train, test


def settings_of(label: str, args) -> dict:
    """The TrainConfig fields a run sets (beyond the seed)."""
    if label == "defaults":
        return {}
    overrides = dict(args.set or [])
    settings = {**CENTRE, **overrides, **SCREEN[label]}
    settings["patience"] = settings["epochs"]  # the whole curve: no early stop in the screen
    return settings


def show_epoch(event) -> None:
    if event.eval is not None:
        print(f"  epoch {event.epoch}: held-out accuracy {event.eval['accuracy']:.3f}", flush=True)


def run_one(label: str, settings: dict, seed: int, train, test) -> dict:
    import torch

    from training.services.trainer import TrainConfig, train_reward_model

    config = TrainConfig(**settings, seed=seed, device="cpu")
    started, started_cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as output:
        result = train_reward_model(config, train, test, Path(output), on_progress=show_epoch)
    metrics = result.metrics
    return {
        "label": label,
        "settings": settings,
        "seed": seed,
        "config": config.to_dict() | {"base_model": Path(config.base_model).name},
        "epoch_accuracy": [e["accuracy"] for e in metrics["eval"]],
        "epoch_loss": [e["loss"] for e in metrics["eval"]],
        "best_epoch": metrics["best_epoch"],
        "accuracy": metrics["final_accuracy"],
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - started_cpu,
        "train_seconds": metrics["train_seconds"],
        "train_pairs": metrics["train_pairs"],
        "test_pairs": metrics["test_pairs"],
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],
    }


def load_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(results: list[dict], chosen: str | None) -> tuple[str, list[dict]]:
    """Markdown: one line per (label, settings), kept accuracy mean and per seed, and the mean
    accuracy after the last epoch (no epoch chosen on the held-out split: the honest figure
    beside the kept one, which early stopping picked on that same split)."""
    groups: dict[str, list[dict]] = {}
    for run in results:
        key = json.dumps([run["label"], run["settings"]], sort_keys=True)
        groups.setdefault(key, []).append(run)
    lines = [
        "| setting | lr | epochs | batch | max len | pooling | warm-up | seeds | held-out acc."
        " (mean) | per seed | last epoch (mean) | acc. per epoch (seed order) | best epoch | wall s"
        " | CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for runs in groups.values():
        runs.sort(key=lambda r: r["seed"])
        c = runs[0]["config"]
        accuracy = mean(r["accuracy"] for r in runs)
        last = mean(r["epoch_accuracy"][-1] for r in runs)
        name = runs[0]["label"] + (" **(default)**" if runs[0]["label"] == chosen else "")
        per_seed = ", ".join(f"{r['accuracy']:.3f}" for r in runs)
        curves = "; ".join("/".join(f"{a:.3f}" for a in r["epoch_accuracy"]) for r in runs)
        lines.append(
            f"| {name} | {c['learning_rate']:g} | {c['epochs']} | {c['batch_size']} | "
            f"{c['max_length']} | {c.get('pooling', 'model')} | {c['warmup_ratio']:g} | "
            f"{','.join(str(r['seed']) for r in runs)} | **{accuracy:.3f}** | "
            f"{per_seed} | {last:.3f} | {curves} | "
            f"{', '.join(str(r['best_epoch']) for r in runs)} | "
            f"{mean(r['wall_seconds'] for r in runs):.0f} | "
            f"{mean(r['cpu_seconds'] for r in runs):.0f} |"
        )
        summary.append(
            {
                "label": runs[0]["label"],
                "settings": runs[0]["settings"],
                "seeds": [r["seed"] for r in runs],
                "accuracy": accuracy,
                "per_seed": [r["accuracy"] for r in runs],
                "last_epoch_accuracy": last,
                "wall_seconds": mean(r["wall_seconds"] for r in runs),
                "cpu_seconds": mean(r["cpu_seconds"] for r in runs),
            }
        )
    return "\n".join(lines), summary


def parse_setting(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    return name, json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--results", type=Path, default=Path("bench/reward_sweep.jsonl"))
    parser.add_argument("--only", nargs="*", help="labels to run (of SCREEN, or 'defaults')")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", type=parse_setting, help="centre overrides: k=v")
    parser.add_argument("--chosen", default="defaults", help="the label marked as the default")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concord.settings")
    django.setup()
    import torch

    torch.set_num_threads(args.threads)
    if not args.table_only:
        train, test = read_rows(args.file)
        print(f"{len(train)} train pairs, {len(test)} test pairs", flush=True)
        for label in args.only or list(SCREEN):
            settings = settings_of(label, args)
            for seed in args.seeds:
                done = load_results(args.results)
                if any(
                    r["label"] == label and r["settings"] == settings and r["seed"] == seed
                    for r in done
                ):
                    continue
                print(f"{label} seed {seed}: {settings}", flush=True)
                run = run_one(label, settings, seed, train, test)
                print(
                    f"  per epoch {run['epoch_accuracy']}, kept {run['accuracy']:.3f} (epoch "
                    f"{run['best_epoch']}), {run['wall_seconds']:.0f} s wall, "
                    f"{run['cpu_seconds']:.0f} CPU s",
                    flush=True,
                )
                with args.results.open("a") as out:
                    out.write(json.dumps(run) + "\n")
    markdown, summary = table(load_results(args.results), args.chosen)
    print(markdown)
    best = max(summary, key=lambda s: s["accuracy"]) if summary else None
    print(json.dumps({"runs": len(load_results(args.results)), "best": best, "table": summary}))


if __name__ == "__main__":
    main()
