"""Which directed language pairs each simulated node serves: a fixed, skewed mix.

Five languages give 20 directed pairs. A node has one ASR (source) language and 1-3
target languages, so the pairs it advertises (the cross product the protocol implies)
are exactly the ones drawn here. Popularity is skewed, as in a real network: zh->en
grows to thousands of members (many shards of 100), es->ko stays a small unsharded pool.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from lingua_common.language_index import Pair

LANGUAGES = ("zh", "en", "ja", "ko", "es")
SOURCE_WEIGHTS = {"zh": 0.40, "en": 0.30, "ja": 0.15, "ko": 0.10, "es": 0.05}
TARGET_WEIGHTS = {"en": 0.40, "zh": 0.30, "ja": 0.15, "es": 0.10, "ko": 0.05}
TARGET_COUNTS = (1, 2, 3)
TARGET_COUNT_WEIGHTS = (0.40, 0.35, 0.25)

NodePairs = tuple[Pair, ...]


def all_pairs() -> list[Pair]:
    return [(s, t) for s in LANGUAGES for t in LANGUAGES if s != t]


def _draw_targets(rng: random.Random, source: str, count: int) -> list[str]:
    choices = [t for t in LANGUAGES if t != source]
    picked: list[str] = []
    for _ in range(count):
        weights = [TARGET_WEIGHTS[t] for t in choices]
        target = rng.choices(choices, weights)[0]
        picked.append(target)
        choices.remove(target)
    return sorted(picked)


def node_pairs(count: int, seed: int) -> list[NodePairs]:
    """The pairs of nodes 0..count-1 (the same for the same seed)."""
    rng = random.Random(seed)
    sources = list(SOURCE_WEIGHTS)
    source_weights = list(SOURCE_WEIGHTS.values())
    mix: list[NodePairs] = []
    for _ in range(count):
        source = rng.choices(sources, source_weights)[0]
        k = rng.choices(TARGET_COUNTS, TARGET_COUNT_WEIGHTS)[0]
        mix.append(tuple((source, t) for t in _draw_targets(rng, source, k)))
    return mix


def pair_sizes(mix: Sequence[NodePairs]) -> Counter[Pair]:
    """Members per directed pair."""
    return Counter(pair for pairs in mix for pair in pairs)
