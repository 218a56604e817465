"""Directed language pairs (services/pool/pairs.py) and the in-memory LanguageIndex
(lingua_common/language_index.py): FAILURE #5 (directed pools) and #6 (stale cache)."""

from __future__ import annotations

import random
from collections import Counter

from lingua.common.v1 import node_pb2
from lingua_common.language_index import (
    LanguageIndex,
    NodeEntry,
    both_ways_pairs,
    parse_pool_id,
    pool_id,
)
from services.pool.pairs import directed_pairs

LP = node_pb2.LanguagePair


def caps(
    asr: list[str], semantic: list[str], tts: tuple[str, ...] = (), nmt: tuple = ()
) -> node_pb2.LanguageCapabilities:
    return node_pb2.LanguageCapabilities(
        asr_languages=asr,
        semantic_languages=semantic,
        tts_languages=list(tts),
        nmt_capabilities=nmt,
    )


def nmt(rule: int, languages: list[str], **pairs: list[node_pb2.LanguagePair]):
    return node_pb2.NmtCapability(model_id="m", languages=languages, rule=rule, **pairs)


# --- pairs --------------------------------------------------------------------------------------


def test_failure_5_pairs_are_directed_asr_language_to_semantic_language():
    assert directed_pairs(caps(["zh"], ["en"])) == {("zh", "en")}
    assert directed_pairs(caps(["en"], ["zh"])) == {("en", "zh")}


def test_failure_5_zh_en_and_en_zh_are_different_pools():
    pairs = directed_pairs(caps(["zh", "en"], ["zh", "en"]))
    assert pairs == {("zh", "en"), ("en", "zh")}
    assert pool_id(("zh", "en"), 0) == "zh:en#0" != pool_id(("en", "zh"), 0)


def test_same_language_pairs_are_excluded():
    assert directed_pairs(caps(["en"], ["en"])) == frozenset()
    assert ("ja", "ja") not in directed_pairs(caps(["ja", "ko"], ["ja", "ko"]))


def test_no_asr_or_no_target_language_means_no_pairs():
    assert directed_pairs(caps([], ["en"])) == frozenset()
    assert directed_pairs(caps(["en"], [])) == frozenset()
    assert directed_pairs(caps(["", "en"], ["", "zh"])) == {("en", "zh")}


def test_tts_languages_are_the_targets_when_no_semantic_languages_are_sent():
    assert directed_pairs(caps(["zh"], [], tts=("en", "ja"))) == {("zh", "en"), ("zh", "ja")}


def test_nmt_any_to_any_allows_pairs_within_its_languages():
    rule = nmt(node_pb2.NMT_RULE_ANY_TO_ANY, ["zh", "en"])
    pairs = directed_pairs(caps(["zh", "en", "ja"], ["zh", "en", "ja"], nmt=(rule,)))
    assert pairs == {("zh", "en"), ("en", "zh")}


def test_nmt_any_to_en_allows_only_english_targets():
    rule = nmt(node_pb2.NMT_RULE_ANY_TO_EN, ["zh", "ja"])
    pairs = directed_pairs(caps(["zh", "ja", "en"], ["zh", "ja", "en"], nmt=(rule,)))
    assert pairs == {("zh", "en"), ("ja", "en")}


def test_nmt_en_to_any_allows_only_english_sources():
    rule = nmt(node_pb2.NMT_RULE_EN_TO_ANY, ["zh", "ja"])
    pairs = directed_pairs(caps(["zh", "ja", "en"], ["zh", "ja", "en"], nmt=(rule,)))
    assert pairs == {("en", "zh"), ("en", "ja")}


def test_nmt_specific_pairs_allows_only_the_listed_directions():
    rule = nmt(node_pb2.NMT_RULE_SPECIFIC_PAIRS, [], supported_pairs=[LP(src="zh", tgt="en")])
    assert directed_pairs(caps(["zh", "en"], ["zh", "en"], nmt=(rule,))) == {("zh", "en")}


def test_nmt_blocked_pairs_remove_a_direction_the_rule_allows():
    rule = nmt(node_pb2.NMT_RULE_ANY_TO_ANY, ["zh", "en"], blocked_pairs=[LP(src="en", tgt="zh")])
    assert directed_pairs(caps(["zh", "en"], ["zh", "en"], nmt=(rule,))) == {("zh", "en")}


def test_nmt_rules_of_several_models_are_combined():
    to_en = nmt(node_pb2.NMT_RULE_ANY_TO_EN, ["zh"])
    from_en = nmt(node_pb2.NMT_RULE_EN_TO_ANY, ["ja"])
    pairs = directed_pairs(caps(["zh", "en"], ["en", "ja"], nmt=(to_en, from_en)))
    assert pairs == {("zh", "en"), ("en", "ja")}


def test_nmt_unspecified_rule_allows_nothing():
    rule = nmt(node_pb2.NMT_RULE_UNSPECIFIED, ["zh", "en"])
    assert directed_pairs(caps(["zh"], ["en"], nmt=(rule,))) == frozenset()


def test_pool_id_round_trips_and_rejects_malformed_ids():
    assert parse_pool_id(pool_id(("zh", "en"), 3)) == (("zh", "en"), 3)
    assert parse_pool_id("zh-CN:en#0") == (("zh-CN", "en"), 0)
    assert parse_pool_id("zhen#0") is None
    assert parse_pool_id(":en#0") is None
    assert parse_pool_id("zh:#0") is None
    assert parse_pool_id("zh:en") is None
    assert parse_pool_id("zh:en#x") is None


# --- LanguageIndex ------------------------------------------------------------------------------

ZH_EN, EN_ZH = ("zh", "en"), ("en", "zh")


def entry(*pairs: tuple[str, str], ready: tuple[str, ...] = ("asr", "nmt", "tts")) -> NodeEntry:
    return NodeEntry(pairs=frozenset(pairs), ready=frozenset(ready))


def test_apply_adds_a_node_to_each_of_its_pools():
    index = LanguageIndex(random.Random(1))
    assert index.apply("n1", entry(ZH_EN, EN_ZH), version=1)
    assert index.pools() == {(ZH_EN, 0): ["n1"], (EN_ZH, 0): ["n1"]}
    assert index.version == 1


def test_failure_5_a_zh_en_node_is_not_a_candidate_for_en_zh():
    index = LanguageIndex(random.Random(1))
    index.apply("n1", entry(ZH_EN), version=1)
    assert index.candidates(ZH_EN) == ["n1"]
    assert index.candidates(EN_ZH) == []


def test_failure_6_an_older_version_never_overwrites_a_newer_one():
    index = LanguageIndex(random.Random(1))
    assert index.apply("n1", entry(ZH_EN), version=5)
    assert not index.apply("n1", None, version=4)  # a stale removal
    assert not index.apply("n1", entry(EN_ZH), version=5)  # a replay of the same version
    assert index.members(ZH_EN) == ["n1"]
    assert index.members(EN_ZH) == []
    assert index.version == 5


def test_failure_6_a_stale_add_after_a_removal_is_ignored():
    index = LanguageIndex(random.Random(1))
    index.apply("n1", entry(ZH_EN), version=1)
    assert index.apply("n1", None, version=2)
    assert not index.apply("n1", entry(ZH_EN), version=1)
    assert index.candidates(ZH_EN) == []


def test_a_newer_entry_moves_the_node_between_pools():
    index = LanguageIndex(random.Random(1))
    index.apply("n1", entry(ZH_EN), version=1)
    index.apply("n1", entry(EN_ZH), version=2)
    assert index.pools() == {(EN_ZH, 0): ["n1"]}


def test_removal_takes_the_node_out_and_empty_pools_disappear():
    index = LanguageIndex(random.Random(1))
    index.apply("n1", entry(ZH_EN), version=1)
    index.apply("n2", entry(ZH_EN, EN_ZH), version=2)
    index.apply("n2", None, version=3)
    assert index.pools() == {(ZH_EN, 0): ["n1"]}
    assert index.entry("n2") is None
    index.apply("n1", None, version=4)
    assert index.pools() == {}
    assert index.node_ids() == []


def test_candidates_keep_only_nodes_ready_for_every_required_type():
    index = LanguageIndex(random.Random(1))
    index.apply("full", entry(ZH_EN, ready=("asr", "nmt", "tts")), version=1)
    index.apply("no-tts", entry(ZH_EN, ready=("asr", "nmt")), version=2)
    assert sorted(index.candidates(ZH_EN, required=("asr", "nmt"))) == ["full", "no-tts"]
    assert index.candidates(ZH_EN, required=("asr", "tts")) == ["full"]
    assert index.candidates(ZH_EN, required=("semantic",)) == []


def test_candidates_leave_out_excluded_nodes():
    index = LanguageIndex(random.Random(1))
    for n in range(3):
        index.apply(f"n{n}", entry(ZH_EN), version=n + 1)
    assert sorted(index.candidates(ZH_EN, exclude=("n1",))) == ["n0", "n2"]


def test_candidates_are_distinct_and_at_most_limit_in_small_and_large_pools():
    for size in (5, 12, 200):
        index = LanguageIndex(random.Random(size))
        for n in range(size):
            index.apply(f"n{n}", entry(ZH_EN), version=n + 1)
        for _ in range(20):
            picked = index.candidates(ZH_EN, limit=3)
            assert len(picked) == len(set(picked)) == min(size, 3)
            assert set(picked) <= {f"n{n}" for n in range(size)}


def test_candidates_in_a_large_pool_respect_filters():
    index = LanguageIndex(random.Random(7))
    for n in range(100):
        ready = ("asr", "nmt", "tts") if n % 2 else ("asr",)
        index.apply(f"n{n}", entry(ZH_EN, ready=ready), version=n + 1)
    for _ in range(50):
        picked = index.candidates(ZH_EN, required=("tts",), exclude=("n1", "n3"), limit=4)
        assert picked
        assert all(int(n[1:]) % 2 == 1 and n not in ("n1", "n3") for n in picked)


def test_candidates_sample_a_large_pool_uniformly_enough():
    index = LanguageIndex(random.Random(42))
    size, limit, rounds = 40, 4, 5000  # 40 > 4 * limit: the random-probe path
    for n in range(size):
        index.apply(f"n{n}", entry(ZH_EN), version=n + 1)
    seen = Counter(n for _ in range(rounds) for n in index.candidates(ZH_EN, limit=limit))
    expected = rounds * limit / size  # 500
    assert set(seen) == {f"n{n}" for n in range(size)}
    assert all(0.75 * expected < count < 1.25 * expected for count in seen.values())


def test_candidates_of_an_unknown_pair_are_empty():
    assert LanguageIndex(random.Random(1)).candidates(("xx", "yy")) == []


def test_a_large_pool_with_few_eligible_members_still_yields_them_all() -> None:
    index = LanguageIndex(random.Random(7))
    for i in range(400):
        ready = frozenset({"asr", "nmt"}) if i % 100 == 0 else frozenset({"asr"})
        index.apply(f"n{i}", NodeEntry(pairs=frozenset({("zh", "en")}), ready=ready), i + 1)
    found = index.candidates(("zh", "en"), required=("asr", "nmt"), limit=8)
    assert sorted(found) == ["n0", "n100", "n200", "n300"]


def test_a_large_pair_is_split_into_shards_of_bounded_size() -> None:
    index = LanguageIndex(random.Random(1), shard_size=10)
    entry = NodeEntry(pairs=frozenset({ZH_EN}), ready=frozenset({"asr"}))
    for i in range(35):
        index.apply(f"n{i}", entry, i + 1)
    assert index.shard_count(ZH_EN) == 4
    shards = [index.members(ZH_EN, s) for s in range(4)]
    assert sorted(n for shard in shards for n in shard) == sorted(f"n{i}" for i in range(35))
    assert all(index.shard_of(ZH_EN, n) == s for s, shard in enumerate(shards) for n in shard)
    for i in range(30):
        index.apply(f"n{i}", None, 100 + i)
    assert index.shard_count(ZH_EN) == 1
    assert index.members(ZH_EN, 0) == sorted(f"n{i}" for i in range(30, 35))


def test_growing_by_one_shard_moves_few_nodes() -> None:
    index = LanguageIndex(random.Random(1), shard_size=10)
    entry = NodeEntry(pairs=frozenset({ZH_EN}), ready=frozenset())
    for i in range(40):
        index.apply(f"n{i}", entry, i + 1)
    before = {f"n{i}": index.shard_of(ZH_EN, f"n{i}") for i in range(40)}
    index.apply("n40", entry, 41)  # 41 members: a fifth shard
    moved = [n for n, s in before.items() if index.shard_of(ZH_EN, n) != s]
    assert index.shard_count(ZH_EN) == 5
    assert all(index.shard_of(ZH_EN, n) == 4 for n in moved)  # only into the new shard
    assert len(moved) < 20


def test_candidates_prefer_the_given_shard_then_spill_over() -> None:
    index = LanguageIndex(random.Random(3), shard_size=5)
    entry = NodeEntry(pairs=frozenset({ZH_EN}), ready=frozenset())
    for i in range(20):
        index.apply(f"n{i}", entry, i + 1)
    home = index.members(ZH_EN, 2)
    found = index.candidates(ZH_EN, limit=len(home), preferred_shard=2)
    assert sorted(found) == home
    wider = index.candidates(ZH_EN, limit=len(home) + 3, preferred_shard=2)
    assert sorted(wider[: len(home)]) == home
    assert len(set(wider)) == len(home) + 3
    busy_home = index.candidates(ZH_EN, exclude=home, limit=3, preferred_shard=2)
    assert len(busy_home) == 3 and not set(busy_home) & set(home)


# --- both directions (two-way jobs) -------------------------------------------------------------


def test_a_pair_served_both_ways_has_its_own_pool_maintained_as_nodes_change() -> None:
    index = LanguageIndex(random.Random(1))
    index.apply("both", entry(ZH_EN, EN_ZH), version=1)
    index.apply("zh-en", entry(ZH_EN), version=2)
    index.apply("en-zh", entry(EN_ZH, ("en", "de")), version=3)
    # Only a node serving zh->en and en->zh serves someone who may speak either.
    assert index.candidates(("en", "zh"), both_ways=True) == ["both"]
    assert sorted(index.candidates(ZH_EN)) == ["both", "zh-en"]
    index.apply("zh-en", entry(ZH_EN, EN_ZH), version=4)  # it gained the other direction
    assert sorted(index.members(("en", "zh"), both_ways=True)) == ["both", "zh-en"]
    index.apply("both", entry(ZH_EN), version=5)  # it lost one
    assert index.members(("en", "zh"), both_ways=True) == ["zh-en"]
    index.apply("zh-en", None, version=6)
    assert index.candidates(("en", "zh"), both_ways=True) == []
    assert index.shard_count(("en", "zh"), both_ways=True) == 0


def test_both_ways_lookups_filter_shard_and_sample_like_directed_ones() -> None:
    index = LanguageIndex(random.Random(5), shard_size=10)
    for i in range(35):
        ready = ("asr", "nmt", "tts") if i % 5 else ("asr",)
        index.apply(f"n{i}", entry(ZH_EN, EN_ZH, ready=ready), i + 1)
    pair = ("en", "zh")
    assert index.shard_count(pair, both_ways=True) == 4
    home = index.members(pair, 1, both_ways=True)
    assert all(index.shard_of(pair, n, both_ways=True) == 1 for n in home)
    found = index.candidates(
        pair, required=("tts",), exclude=("n1",), limit=4, preferred_shard=1, both_ways=True
    )
    assert len(set(found)) == 4
    assert all(int(n[1:]) % 5 and n != "n1" for n in found)
    assert set(found[: len([n for n in home if int(n[1:]) % 5 and n != "n1"])]) <= set(home)


def test_both_ways_pool_ids_round_trip_and_never_pass_for_directed_ones() -> None:
    assert pool_id(("en", "zh"), 2, both_ways=True) == "en<->zh#2"
    assert parse_pool_id("en<->zh#2", both_ways=True) == (("en", "zh"), 2)
    assert parse_pool_id("en<->zh#2") is None
    assert parse_pool_id("en:zh#2", both_ways=True) is None
    assert both_ways_pairs(frozenset({ZH_EN, EN_ZH, ("en", "de")})) == {("en", "zh")}
