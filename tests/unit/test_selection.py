"""power_of_two_order (services/dispatcher/selection.py): which nodes, in what order."""

from __future__ import annotations

import random
from collections import Counter

from services.dispatcher.selection import Option, power_of_two_order


def node(node_id: str, utilisation: float = 0.0, local: bool = False) -> Option:
    return Option(node_id, utilisation, local)


def ids(order: list[Option]) -> list[str]:
    return [n.node_id for n in order]


def test_no_nodes_gives_an_empty_order() -> None:
    assert power_of_two_order([], random.Random(0)) == []


def test_a_single_node_is_the_whole_order() -> None:
    assert ids(power_of_two_order([node("a")], random.Random(0))) == ["a"]


def test_every_node_appears_exactly_once() -> None:
    options = [node(f"n{i}", (i % 4) / 4) for i in range(10)]
    for seed in range(50):
        order = ids(power_of_two_order(options, random.Random(seed)))
        assert sorted(order) == sorted(f"n{i}" for i in range(10))


def test_of_two_nodes_the_less_utilised_always_goes_first() -> None:
    options = [node("busy", 0.75), node("idle", 0.0)]
    for seed in range(50):
        assert ids(power_of_two_order(options, random.Random(seed))) == ["idle", "busy"]


def test_between_equally_loaded_nodes_the_one_on_the_sessions_gateway_goes_first() -> None:
    options = [node("remote", 0.25), node("local", 0.25, local=True)]
    for seed in range(50):
        assert ids(power_of_two_order(options, random.Random(seed))) == ["local", "remote"]


def test_load_counts_before_locality() -> None:
    options = [node("remote", 0.0), node("local", 0.5, local=True)]
    for seed in range(50):
        assert ids(power_of_two_order(options, random.Random(seed))) == ["remote", "local"]


def test_the_input_list_is_not_modified() -> None:
    options = [node("a"), node("b", 0.25), node("c", 1.0)]
    before = list(options)
    power_of_two_order(options, random.Random(0))
    assert options == before


def test_less_utilised_nodes_are_preferred_first_statistically() -> None:
    # 10 idle and 10 busy nodes: a random first pick is idle half the time; the better of
    # two random picks is idle unless both are busy, i.e. 1 - (10/20 * 9/19) ≈ 76 %.
    options = [node(f"idle{i}") for i in range(10)] + [node(f"busy{i}", 0.75) for i in range(10)]
    rng = random.Random(12345)
    rounds = 4000
    first = Counter(
        power_of_two_order(options, rng)[0].node_id.rstrip("0123456789") for _ in range(rounds)
    )
    share = first["idle"] / rounds
    assert 0.72 < share < 0.80


def test_load_still_spreads_over_equally_utilised_nodes() -> None:
    options = [node(f"n{i}") for i in range(5)]
    rng = random.Random(99)
    rounds = 5000
    first = Counter(ids(power_of_two_order(options, rng))[0] for _ in range(rounds))
    assert set(first) == {f"n{i}" for i in range(5)}
    assert all(0.15 < count / rounds < 0.25 for count in first.values())
