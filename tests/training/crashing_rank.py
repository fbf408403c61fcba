"""A training rank for the crash test: rank 1 raises at its third micro-batch, while rank 0
waits for it in the gradient all-reduce; every other rank is ``training.distributed_train``."""

import os
import sys

from training import distributed_train
from training.services import trainer

CRASH_AT_BATCH = 3

if os.environ.get("RANK") == "1":
    collate = trainer.collate_pairs
    batches = []

    def collate_then_crash(*args, **kwargs):
        batches.append(args)
        if len(batches) == CRASH_AT_BATCH:
            raise RuntimeError("rank 1 lost its device")
        return collate(*args, **kwargs)

    trainer.collate_pairs = collate_then_crash

if __name__ == "__main__":
    sys.exit(distributed_train.main())
