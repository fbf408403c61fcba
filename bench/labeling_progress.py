"""What the labeling page's progress line ("n left for me · n done today") costs per item panel:
``annotation.services.progress.queue_progress`` timed on a sprint of N items, as the page calls
it for each item (two indexed counts, the full count of items left kept for a while) and with
that full count made every time (its cost once per ``LEFT_RECOUNT_SECONDS``), beside the API's
``next`` for the same annotator in the same run (the baseline: what serving an item costs).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_label_page_bench \\
        .venv/bin/python bench/labeling_progress.py --items 100000 --repeat 7

The database named in DATABASE_URL is dropped and created afresh and filled by
``labeling_fill`` (N items, two responses each, overlap k). ``--judged`` pairs of next + submit
by the measuring annotator come first, so "done today" has rows to count. Reported: medians of
``--repeat`` timings in ms, and their ratio. Last line: one JSON object.
"""

import argparse
import json
import os
import statistics
import time

from fresh_database import setup_fresh_database
from labeling_fill import fill_items, setup_sprint
from labeling_probe import InProcessAnnotator


def median_ms(call, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(timings), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--judged", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    os.environ.update(CONCORD_SSL_REDIRECT="0", CONCORD_SECURE_COOKIES="0")  # in-process HTTP
    setup_fresh_database("labeling_progress.py")
    from django.contrib.auth.models import User
    from django.core.cache import cache

    from annotation.models import Sprint
    from annotation.services.progress import queue_progress

    bench = setup_sprint(annotators=1, k=args.k)
    fill_seconds = fill_items(bench.sprint_id, args.items)
    annotator = InProcessAnnotator(bench.sprint_id, bench.probe_token)
    for _ in range(args.judged):
        annotator.pair()
    user = User.objects.get(username="probe")
    sprint = Sprint.objects.get(pk=bench.sprint_id)

    def recount():
        cache.clear()
        return queue_progress(user, sprint)

    recount_ms = median_ms(recount, args.repeat)
    progress = queue_progress(user, sprint)
    progress_ms = median_ms(lambda: queue_progress(user, sprint), args.repeat)
    next_ms = median_ms(annotator.next, args.repeat)  # the same leased item, served again
    print(
        json.dumps(
            {
                "items": args.items,
                "fill_seconds": round(fill_seconds, 1),
                "left": progress.left,
                "done_today": progress.done_today,
                "progress_ms_median": progress_ms,
                "recount_ms_median": recount_ms,
                "baseline_next_ms_median": next_ms,
                "ratio_progress_to_next": round(progress_ms / next_ms, 2),
                "ratio_recount_to_next": round(recount_ms / next_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
