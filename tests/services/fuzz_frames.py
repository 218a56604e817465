"""Hypothesis strategies for gateway fuzzing: frames a peer might send, from random JSON
to golden protocol messages with one field (at any depth) deleted or replaced."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Message = dict[str, Any]
INVALID_UTF8 = b'{"type": "\xc3\x28"}'

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.sampled_from([2**64, -(2**63) - 1, 10**30, 1e308, -0.0])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
    # Past the bounds of the table of limits (lingua_common/limits.py): control
    # characters, a separator in a tenant, shell in a format, a uint32 sample rate.
    | st.sampled_from(["\x00", "a:b", "wav;$(reboot)", "zh-" * 20, 2**32 - 1])
)
# One of these at most per message, so that a message stays under the frame limit (a
# bigger frame is closed with 1009, which the gateway's limits tests cover): a huge id or
# language name, a list longer than any bound.
HUGE_VALUES = st.sampled_from(["x" * 200_000, "l" * 600_000, ["zh"] * 20_000])
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, goldens: dict[str, Message]) -> Message:
    message = copy.deepcopy(goldens[draw(st.sampled_from(sorted(goldens)))])
    path = draw(st.sampled_from(list(paths(message))))
    target = message
    for step in path[:-1]:
        target = target[step]
    action = draw(st.integers(0, 9))
    if action < 5:
        del target[path[-1]]
    else:
        target[path[-1]] = draw(HUGE_VALUES if action == 9 else JSON_VALUES)
    return message


@dataclass(frozen=True)
class Frame:
    data: str | bytes
    text: bool = True


def frames(goldens: dict[str, Message]) -> st.SearchStrategy[Frame]:
    common = st.one_of(
        st.builds(json.dumps, mutated(goldens)).map(Frame),
        st.builds(json.dumps, mutated(goldens)).map(Frame),
        st.builds(json.dumps, JSON_VALUES).map(Frame),
        st.sampled_from(sorted(goldens)).map(lambda kind: Frame(json.dumps(goldens[kind]))),
        st.text(max_size=200).map(Frame),
        st.integers(1, 3000).map(lambda n: Frame("[" * n + "]" * n)),
        st.integers(1, 3000).map(lambda n: Frame('{"a":' * n + "1" + "}" * n)),
        st.binary(max_size=64).map(lambda data: Frame(data, text=False)),
    )
    # Invalid UTF-8 ends the connection (RFC 6455), so it comes rarely.
    return st.integers(0, 39).flatmap(lambda n: st.just(Frame(INVALID_UTF8)) if n == 0 else common)
