"""Directed language pairs a node can serve, from its language capabilities (the pool
indexes them; the registry tells a node that can serve none).

A pair (src -> tgt) needs ASR in src and semantic repair in tgt (the original built
pools from sorted language *sets* and lost direction: "no pool for zh->en"). When the
node sends NMT rules, a pair must also be allowed by one of them and not blocked.
"""

from __future__ import annotations

from lingua.common.v1 import node_pb2
from lingua_common.language_index import Pair


def directed_pairs(caps: node_pb2.LanguageCapabilities) -> frozenset[Pair]:
    sources = {lang for lang in caps.asr_languages if lang}
    targets = {lang for lang in (caps.semantic_languages or caps.tts_languages) if lang}
    candidates = {(s, t) for s in sources for t in targets if s != t}
    if not caps.nmt_capabilities:
        return frozenset(candidates)
    return frozenset(p for p in candidates if any(_nmt_allows(n, p) for n in caps.nmt_capabilities))


def _nmt_allows(nmt: node_pb2.NmtCapability, pair: Pair) -> bool:
    src, tgt = pair
    if any(b.src == src and b.tgt == tgt for b in nmt.blocked_pairs):
        return False
    languages = set(nmt.languages)
    rule = nmt.rule
    if rule == node_pb2.NMT_RULE_ANY_TO_ANY:
        return src in languages and tgt in languages
    if rule == node_pb2.NMT_RULE_ANY_TO_EN:
        return tgt == "en" and src in languages
    if rule == node_pb2.NMT_RULE_EN_TO_ANY:
        return src == "en" and tgt in languages
    if rule == node_pb2.NMT_RULE_SPECIFIC_PAIRS:
        return any(p.src == src and p.tgt == tgt for p in nmt.supported_pairs)
    return False
