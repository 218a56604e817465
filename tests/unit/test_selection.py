"""power_of_two_order (services/dispatcher/selection.py): which nodes, in what order."""

from __future__ import annotations

import random
from collections import Counter

from services.dispatcher.model import NodeLoad
from services.dispatcher.selection import power_of_two_order


def node(
    node_id: str, running: int = 0, max_jobs: int = 4, ready: bool = True, owner: str = "gw-1"
) -> NodeLoad:
    return NodeLoad(
        node_id=node_id,
        ready=ready,
        running=running,
        max_jobs=max_jobs,
        owner_gateway=owner,
        owner_epoch=1,
    )


def ids(order: list[NodeLoad]) -> list[str]:
    return [n.node_id for n in order]


def test_no_nodes_gives_an_empty_order():
    assert power_of_two_order([], random.Random(0)) == []


def test_a_single_eligible_node_is_the_whole_order():
    assert ids(power_of_two_order([node("a")], random.Random(0))) == ["a"]


def test_not_ready_full_and_ownerless_nodes_are_skipped():
    loads = [
        node("ok"),
        node("not-ready", ready=False),
        node("full", running=4, max_jobs=4),
        node("over", running=5, max_jobs=4),
        node("no-capacity", max_jobs=0),
        node("no-owner", owner=""),
    ]
    for seed in range(20):
        assert ids(power_of_two_order(loads, random.Random(seed))) == ["ok"]


def test_every_eligible_node_appears_exactly_once():
    loads = [node(f"n{i}", running=i % 4) for i in range(10)]
    for seed in range(50):
        order = ids(power_of_two_order(loads, random.Random(seed)))
        assert sorted(order) == sorted(f"n{i}" for i in range(10))


def test_of_two_nodes_the_less_utilised_always_goes_first():
    loads = [node("busy", running=3), node("idle", running=0)]
    for seed in range(50):
        assert ids(power_of_two_order(loads, random.Random(seed))) == ["idle", "busy"]


def test_utilisation_is_relative_to_capacity_not_absolute_running_jobs():
    loads = [node("small", running=1, max_jobs=2), node("big", running=2, max_jobs=8)]
    assert ids(power_of_two_order(loads, random.Random(3))) == ["big", "small"]


def test_the_input_list_is_not_modified():
    loads = [node("a"), node("b", running=1), node("c", ready=False)]
    before = list(loads)
    power_of_two_order(loads, random.Random(0))
    assert loads == before


def test_less_utilised_nodes_are_preferred_first_statistically():
    # 10 idle and 10 busy nodes: a random first pick is idle half the time; the better of
    # two random picks is idle unless both are busy, i.e. 1 - (10/20 * 9/19) ≈ 76 %.
    loads = [node(f"idle{i}") for i in range(10)] + [node(f"busy{i}", running=3) for i in range(10)]
    rng = random.Random(12345)
    rounds = 4000
    first = Counter(
        power_of_two_order(loads, rng)[0].node_id.rstrip("0123456789") for _ in range(rounds)
    )
    share = first["idle"] / rounds
    assert 0.72 < share < 0.80


def test_load_still_spreads_over_equally_utilised_nodes():
    loads = [node(f"n{i}") for i in range(5)]
    rng = random.Random(99)
    rounds = 5000
    first = Counter(ids(power_of_two_order(loads, rng))[0] for _ in range(rounds))
    assert set(first) == {f"n{i}" for i in range(5)}
    assert all(0.15 < count / rounds < 0.25 for count in first.values())
