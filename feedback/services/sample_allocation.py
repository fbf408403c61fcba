"""How many items each stratum of a feedback sample gets, and in which order its events are
drawn. Pure functions: no database, no clock, the same inputs give the same answer."""

import math
import random
from collections.abc import Mapping


def largest_remainder(n: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split ``n`` over the strata in proportion to ``weights`` (each > 0): every stratum gets
    the whole part of its quota and the ``n - sum`` items left go one each to the largest
    fractional parts (ties to the stratum first by name). The targets sum to ``n`` exactly and
    each is within one item of its exact quota ``n * w / sum(w)``."""
    if not weights:
        return {}
    total = math.fsum(weights.values())
    quotas = {stratum: n * weight / total for stratum, weight in weights.items()}
    targets = {stratum: math.floor(quota) for stratum, quota in quotas.items()}
    left = n - sum(targets.values())
    by_remainder = sorted(quotas, key=lambda stratum: (-(quotas[stratum] % 1), stratum))
    for stratum in by_remainder[:left]:
        targets[stratum] += 1
    return targets


def equal_weights(strata: list[str]) -> dict[str, float]:
    """Equal allocation over ``strata``: weight 1 each."""
    return dict.fromkeys(strata, 1.0)


def draw_order(seed: int, stratum: str, event_ids: list[int]) -> list[int]:
    """The events of one stratum in the order a sample with ``seed`` draws them: a shuffle of
    the ids sorted, by a generator seeded with the seed and the stratum's name, so the same seed
    over the same candidates draws the same events whatever order the database returned them
    in, and one stratum's draw does not depend on how many events another holds."""
    ordered = sorted(event_ids)
    random.Random(f"{seed}:{stratum}").shuffle(ordered)
    return ordered
