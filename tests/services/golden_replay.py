"""Replaying a recorded conversation (golden JSON frames) against the real gateway.

A golden file is a list of steps, each one of:

    {"client_sends": frame}   {"client_gets": frame}
    {"node_sends": frame}     {"node_gets": frame}
    {"advance_ms": n}         (the suite's ManualClock moves on)

Every frame a peer gets must match the expected one field for field: the same keys, the
same values. Values the scheduler makes up (ids, trace ids) are written `${name}`: the
first occurrence binds the name to what arrived, every later one must equal it, and
frames that are sent have their names filled in. `${name}` inside a longer string
(`group_${session}_1700000000000`) matches that text around the bound value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lingua_common.clock import ManualClock
from tests.peers import Peer
from tests.services.gateway_helpers import conforms

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
WAIT_S = 5.0


def load(path: Path) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["steps"]
    return steps


def fill(value: Any, bound: Mapping[str, Any]) -> Any:
    """A frame to send, with bound names filled in."""
    if isinstance(value, dict):
        return {k: fill(v, bound) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, bound) for v in value]
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return bound[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(bound[m.group(1)]), value)
    return value


def match(expected: Any, actual: Any, bound: dict[str, Any], path: str = "") -> list[str]:
    """What differs between an expected frame and the one that arrived (binds names)."""
    if isinstance(expected, str) and PLACEHOLDER.search(expected):
        return _match_placeholder(expected, actual, bound, path)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = [f"{path}.{k}: missing" for k in expected if k not in actual]
        problems += [f"{path}.{k}: unexpected ({actual[k]!r})" for k in actual if k not in expected]
        for key in expected.keys() & actual.keys():
            problems += match(expected[key], actual[key], bound, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        problems = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            problems += match(e, a, bound, f"{path}[{i}]")
        return problems
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def _match_placeholder(expected: str, actual: Any, bound: dict[str, Any], path: str) -> list[str]:
    whole = PLACEHOLDER.fullmatch(expected)
    if whole:
        name = whole.group(1)
        if name not in bound:
            if actual in (None, ""):
                return [f"{path}: ${{{name}}} must not be empty"]
            bound[name] = actual
            return []
        if bound[name] != actual:
            return [f"{path}: expected ${{{name}}} = {bound[name]!r}, got {actual!r}"]
        return []
    if not isinstance(actual, str):
        return [f"{path}: expected a string like {expected!r}, got {actual!r}"]
    pattern, names, at = "", [], 0
    for m in PLACEHOLDER.finditer(expected):
        pattern += re.escape(expected[at : m.start()])
        name = m.group(1)
        pattern += re.escape(str(bound[name])) if name in bound else f"(?P<{name}>.+?)"
        names.append(name)
        at = m.end()
    pattern += re.escape(expected[at:])
    found = re.fullmatch(pattern, actual)
    if found is None:
        return [f"{path}: {actual!r} does not read {fill_known(expected, bound)!r}"]
    for name in names:
        if name not in bound:
            bound[name] = found.group(name)
    return []


def fill_known(template: str, bound: Mapping[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: str(bound.get(m.group(1), m.group(0))), template)


async def replay(
    steps: list[dict[str, Any]],
    peers: Mapping[str, Peer],
    clock: ManualClock,
    bound: dict[str, Any],
) -> None:
    """Run every step; an AssertionError names the first frame that differs."""
    for number, step in enumerate(steps):
        [(action, body)] = step.items()
        if action == "advance_ms":
            clock.advance(int(body))
            continue
        who, verb = action.split("_", 1)
        peer = peers[who]
        if verb == "sends":
            await peer.send(fill(body, bound))
            continue
        assert verb == "gets", f"step {number}: unknown action {action!r}"
        frame = await peer.recv(WAIT_S)
        conforms("node_in" if who == "node" else "client_in", frame)
        problems = match(body, frame, bound, f"step {number} {who}")
        assert not problems, (problems, frame)
