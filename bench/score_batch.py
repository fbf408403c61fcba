"""Batch scoring speed: the scoring service against a plain batched forward pass, same run.

    CONCORD_DEBUG=1 .venv/bin/python bench/score_batch.py            # 512 items x 2, CPU
    CONCORD_DEBUG=1 .venv/bin/python bench/score_batch.py --items 64 --repeats 3   # quick

Items are HH-RLHF harmless dialogues (``--file``, split as ``bench/train_reward.py`` does: the
shared turns are the prompt, the chosen and the rejected reply its two responses); every other
item carries a short context document. The model is the packaged MiniLM
(``training.services.train_config.DEFAULT_BASE_MODEL``) saved as a reward model (one output)
into a temporary data directory, registered in memory as a production model version whose
rendering is ``standard`` with the context in the prompt.

Timed, alternately, ``--repeats`` times each (medians reported):

- ``service``: :func:`training.services.scoring.score_items` on every item, the path the score
  endpoint and active selection take: rendering each item's prompt, context and responses,
  tokenizing every (prompt, response) with the trainer's ``encode_responses``, length-sorted
  batches of ``CONCORD_SCORE_BATCH_SIZE`` (``--batch-size``) through the model. The model is
  loaded once, before timing (a process keeps it cached).
- ``forward`` (the baseline): the same model on the same sequences, tokenized and padded into
  the same length-sorted batches before timing, so only the forward passes are timed.

``ratio`` = service items/s over forward items/s (goal: at least 0.8). CPU seconds of the
process over each span are reported beside the wall times, as they are less swayed by other
work on a shared machine. Last line: one JSON object.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: the model is packaged
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ARTIFACTS = "training/runs/bench-score-batch"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--file", type=Path, default=ROOT.parent / "shared/data/hh-rlhf-harmless-1300.jsonl"
    )
    parser.add_argument("--items", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    return parser.parse_args()


def make_items(path: Path, count: int) -> list[dict]:
    from train_reward import read_pairs

    pairs = read_pairs(path)
    if len(pairs) < count:
        raise SystemExit(f"{path} has {len(pairs)} usable dialogues; asked for {count}")
    items = []
    for number, pair in enumerate(pairs[:count]):
        item = {"prompt": pair["prompt"], "responses": [pair["chosen"], pair["rejected"]]}
        if number % 2 == 0:
            text = "Decline harmful requests politely; offer safe help."
            item["context"] = [
                {"id": f"policy-{number}", "title": "Assistant policy", "text": text}
            ]
        items.append(item)
    return items


def save_reward_model(data_dir: Path, max_length: int) -> Path:
    from training.services.reward_model import load_reward_model, quiet_transformers
    from training.services.train_config import DEFAULT_BASE_MODEL

    output = data_dir / ARTIFACTS
    model, tokenizer = load_reward_model(DEFAULT_BASE_MODEL)
    with quiet_transformers():
        model.save_pretrained(output)
        tokenizer.save_pretrained(output)
    (output / "training_config.json").write_text(json.dumps({"max_length": max_length}))
    return output


def timed(work) -> tuple[float, float]:
    """Wall and process CPU seconds of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="concord-score-bench-"))
    os.environ["CONCORD_DATA_DIR"] = str(data_dir)
    os.environ["CONCORD_SCORING_DEVICE"] = "cpu"
    os.environ["CONCORD_SCORE_BATCH_SIZE"] = str(args.batch_size)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concord.settings")
    import django

    django.setup()
    import torch

    from training.models import ModelStage, ModelVersion, TrainingRun
    from training.services.model_rendering import model_rendering
    from training.services.reward_model import encode_responses, pad_encodings
    from training.services.scoring import score_items, scorer_for

    if args.threads:
        torch.set_num_threads(args.threads)
    items = make_items(args.file, args.items)
    save_reward_model(data_dir, args.max_length)
    run = TrainingRun(model_name="bench", artifacts_dir=ARTIFACTS, config={})
    model = ModelVersion(name="bench", version=1, stage=ModelStage.PRODUCTION, run=run,
                         rendering={"form": "standard", "context": "prompt"})  # fmt: skip
    scorer = scorer_for(model)  # loaded once, as a serving process keeps it

    # The baseline's inputs: the same sequences, tokenized and batched before timing.
    rendering = model_rendering(model)
    prompts = [
        rendering.prompt(i["prompt"], i.get("context")) for i in items for _ in i["responses"]
    ]
    responses = [rendering.response(r) for i in items for r in i["responses"]]
    encodings = encode_responses(scorer.tokenizer, prompts, responses, scorer.max_length)
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i]))
    batches = [
        pad_encodings([encodings[i] for i in order[start : start + args.batch_size]],
                      scorer.tokenizer.pad_token_id)
        for start in range(0, len(order), args.batch_size)
    ]  # fmt: skip
    tokens = sum(len(e) for e in encodings)
    print(f"{len(items)} items, {len(encodings)} sequences, {tokens} tokens, "
          f"{len(batches)} batches of {args.batch_size}, torch threads {torch.get_num_threads()}",
          flush=True)  # fmt: skip

    outputs: dict[str, list[float]] = {}

    def service() -> None:
        outputs["service"] = [s for scores in score_items(model, items) for s in scores]

    @torch.inference_mode()
    def forward() -> None:
        scorer.model.eval()
        scores = [0.0] * len(encodings)
        for start, batch in zip(range(0, len(order), args.batch_size), batches, strict=True):
            logits = scorer.model(**batch).logits.squeeze(-1).tolist()
            for index, value in zip(order[start : start + args.batch_size], logits, strict=True):
                scores[index] = value
        outputs["forward"] = scores

    service()  # warm-up, untimed (first-call allocations), for both
    forward()
    times: dict[str, list[tuple[float, float]]] = {"service": [], "forward": []}
    for repeat in range(args.repeats):
        for name, work in (("service", service), ("forward", forward)):
            times[name].append(timed(work))
        print(f"repeat {repeat + 1}: service {times['service'][-1][0]:.2f} s, "
              f"forward {times['forward'][-1][0]:.2f} s", flush=True)  # fmt: skip
    largest_difference = max(
        abs(a - b) for a, b in zip(outputs["service"], outputs["forward"], strict=True)
    )
    wall = {name: statistics.median(t[0] for t in spans) for name, spans in times.items()}
    cpu = {name: statistics.median(t[1] for t in spans) for name, spans in times.items()}
    result = {
        "items": len(items),
        "responses": len(encodings),
        "device": "cpu",
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "items_per_s": round(len(items) / wall["service"], 1),
        "forward_items_per_s": round(len(items) / wall["forward"], 1),
        "ratio": round(wall["forward"] / wall["service"], 3),
        "service_cpu_s": round(cpu["service"], 2),
        "forward_cpu_s": round(cpu["forward"], 2),
        "cpu_ratio": round(cpu["forward"] / cpu["service"], 3),
        "max_score_difference": largest_difference,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
