"""Benchmark: PII redaction throughput over real dialogue text, and its recall / false positives.

Texts are the turns of HH-RLHF dialogues (``../shared/data/hh-rlhf-harmless-1300.jsonl``, both
the chosen and the rejected dialogue), a share of them with a generated PII sentence injected
(``tests/feedback/redaction_corpus.py``: every type, valid for its checker). Timed, medians of
``--repeats`` passes over the same texts, in the same run:

- ``redact`` with every detector (what ingest will run),
- baseline ``email_re_sub``: one ``re.sub`` of an email pattern (the least a redactor does),
- baseline ``str_lower``: ``str.lower()`` of every text (the cost of touching each character once).

Quality, on the seeded corpus the tests use: recall per type (placeholder present, original gone)
over 500 cases a type, the false-positive rate over 2,000 PII-free number-heavy sentences, and
the share of the raw HH-RLHF turns (nothing injected) in which anything was replaced.

The last line printed is one JSON object.

    .venv/bin/python bench/redaction.py [--data PATH] [--repeats 5] [--inject-share 0.3]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback.services.redaction import redact  # noqa: E402
from tests.feedback.redaction_clean_corpus import clean_cases  # noqa: E402
from tests.feedback.redaction_corpus import TYPES, pii_cases  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-1300.jsonl"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
REGION = "US"


def dialogue_turns(path: Path) -> list[str]:
    """Every Human/Assistant turn of every dialogue, stripped, empty ones dropped."""
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for dialogue in (row["chosen"], row["rejected"]):
            for turn in re.split(r"\n\n(?:Human|Assistant): ", dialogue):
                if turn.strip():
                    turns.append(turn.strip())
    return turns


def inject(turns: list[str], share: float, seed: int) -> list[str]:
    """A copy of ``turns`` where ``share`` of them carry one PII sentence at a random place."""
    rng = random.Random(seed)
    pii = pii_cases(seed=seed, per_type=max(1, int(len(turns) * share / len(TYPES)) + 1))
    rng.shuffle(pii)
    out = []
    for turn in turns:
        if pii and rng.random() < share:
            sentences = turn.split(". ")
            sentences.insert(rng.randrange(len(sentences) + 1), pii.pop().text)
            turn = ". ".join(sentences)
        out.append(turn)
    return out


def timed(run, texts: list[str], repeats: int) -> float:
    """Median seconds of ``repeats`` passes of ``run`` over ``texts``."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            run(text)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def quality() -> dict:
    seen: Counter[str] = Counter()
    hidden: Counter[str] = Counter()
    for case in pii_cases(seed=14, per_type=500):
        out = redact(case.text, phone_region=REGION).text
        seen[case.pii_type] += 1
        hidden[case.pii_type] += f"[{case.pii_type.upper()}]" in out and case.secret not in out
    clean = clean_cases(seed=41, n=2000)
    flagged = sum(1 for c in clean if redact(c.text, phone_region=REGION).counts)
    return {
        "recall": {t: round(hidden[t] / seen[t], 4) for t in TYPES},
        "recall_cases_per_type": seen[TYPES[0]],
        "false_positive_rate": round(flagged / len(clean), 4),
        "false_positive_cases": len(clean),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inject-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    raw = dialogue_turns(args.data)
    texts = inject(raw, args.inject_share, args.seed)
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6

    def redact_all(text: str) -> str:
        return redact(text, phone_region=REGION).text

    timings = {
        "redact": timed(redact_all, texts, args.repeats),
        "email_re_sub": timed(lambda t: EMAIL.sub("[EMAIL]", t), texts, args.repeats),
        "str_lower": timed(str.lower, texts, args.repeats),
    }
    found: Counter[str] = Counter()
    for text in texts:
        found.update(redact(text, phone_region=REGION).counts)
    raw_flagged = sum(1 for t in raw if redact(t, phone_region=REGION).counts)

    report = {
        "bench": "redaction",
        "data": args.data.name,
        "texts": len(texts),
        "megabytes": round(megabytes, 3),
        "injected_share": args.inject_share,
        "repeats": args.repeats,
        "median_seconds": {k: round(v, 4) for k, v in timings.items()},
        "texts_per_second": {k: round(len(texts) / v) for k, v in timings.items()},
        "megabytes_per_second": {k: round(megabytes / v, 3) for k, v in timings.items()},
        "slowdown_vs_email_re_sub": round(timings["redact"] / timings["email_re_sub"], 1),
        "slowdown_vs_str_lower": round(timings["redact"] / timings["str_lower"], 1),
        "replaced_in_bench_texts": dict(sorted(found.items())),
        "raw_hh_turns_with_a_replacement": raw_flagged,
        "raw_hh_turns": len(raw),
        **quality(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
