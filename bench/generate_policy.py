"""Generation speed for an evaluation set: tokens per second of Concord's seeded, batched
generation (:func:`training.services.generation.generate_loaded`, what an evaluation runs for
each side) against a plain ``model.generate`` loop over the same prompts, batches and sampling
settings, in the same run, on the tiny causal LM of the tests (or ``--model DIR``).

    .venv/bin/python bench/generate_policy.py --prompts 200 --max-new-tokens 64

The prompts are the grounded prompts of tests/support/tiny_causal_lm.py (two context documents
each), rendered with the default rendering. Rounds alternate the two sides so a change in the
machine's load falls on both. Last line, one JSON object: ``tokens_per_s`` (ours, median),
``baseline_tokens_per_s`` (the plain loop), ``ratio`` (ours over the plain loop), the settings,
``device``, ``threads`` and ``loadavg``.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concord.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)


def plain_generate(model, tokenizer, texts, *, batch_size, options, seed):
    """The baseline: the same batches and seeds, straight through ``model.generate``, the new
    tokens counted to the end-of-sequence token and decoded, as any script must."""
    import torch

    tokens, texts_out = 0, []
    for index, start in enumerate(range(0, len(texts), batch_size)):
        encoded = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True)
        torch.manual_seed(seed + index)
        with torch.no_grad():
            output = model.generate(**encoded, **options)
        for row in output[:, encoded["input_ids"].shape[1] :].tolist():
            eos = tokenizer.eos_token_id
            length = row.index(eos) + 1 if eos in row else len(row)
            tokens += length
            texts_out.append(tokenizer.decode(row[:length], skip_special_tokens=True))
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="a causal LM directory; default: the tiny test model")
    args = parser.parse_args()

    import django

    django.setup()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from exports.services.prompt_rendering import PromptRendering
    from tests.support.tiny_causal_lm import grounded_items, save_tiny_causal_lm
    from training.services.generation import generate_loaded

    folder = args.model or save_tiny_causal_lm(tempfile.mkdtemp(prefix="tiny-lm-"))
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rendering = PromptRendering()
    prompts = [{"prompt": row["prompt"], "context": row["context"]}
               for row in grounded_items(args.prompts, seed=args.seed)]  # fmt: skip
    sampling = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
                "top_p": 1.0, "batch_size": args.batch_size}  # fmt: skip
    options = {"max_new_tokens": args.max_new_tokens, "pad_token_id": tokenizer.pad_token_id,
               "do_sample": True, "temperature": args.temperature, "top_p": 1.0}  # fmt: skip
    texts = [rendering.prompt(p["prompt"], p["context"]) for p in prompts]
    ours, plain = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        result = generate_loaded(model, tokenizer, rendering, prompts, sampling=sampling,
                                 seed=args.seed, device="cpu")  # fmt: skip
        ours.append(result.new_tokens / (time.perf_counter() - started))
        started = time.perf_counter()
        tokens = plain_generate(model, tokenizer, texts, batch_size=args.batch_size,
                                options=options, seed=args.seed)  # fmt: skip
        plain.append(tokens / (time.perf_counter() - started))
    figures = {
        "tokens_per_s": round(statistics.median(ours), 1),
        "baseline_tokens_per_s": round(statistics.median(plain), 1),
        "ratio": round(statistics.median(ours) / statistics.median(plain), 3),
        "new_tokens": result.new_tokens,
        "prompts": args.prompts,
        "sampling": sampling,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
