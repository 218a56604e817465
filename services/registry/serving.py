"""Whether a registered node can serve any job, and if not, why (PROTOCOL.md
"Registration refusals end the connection": a node that can serve no pair is accepted
and told so, e.g. "missing nmt, tts" for ASR and semantic ready, no NMT or TTS).

A job of the default pipeline needs every one of `pipeline_types` ready on a node that
serves its language pair; a node lacking them, or serving no pair at all, is registered
but would silently never get a job. The reason is derived from the node's record (its
languages and ready types), so it is never stale: a heartbeat that reports the missing
services ready clears it.
"""

from __future__ import annotations

from collections.abc import Iterable

from lingua.common.v1 import node_pb2
from lingua_common.language_pairs import directed_pairs
from services.registry.model import NodeRecord

# What the gateway's default pipeline (use_asr, use_nmt, use_tts) needs of a node.
DEFAULT_PIPELINE_TYPES = ("asr", "nmt", "tts")


def serving_gap(
    caps: node_pb2.LanguageCapabilities,
    ready_types: Iterable[str],
    accepts_public_jobs: bool,
    pipeline_types: Iterable[str] = DEFAULT_PIPELINE_TYPES,
) -> str:
    """Why the node can serve no job ("" when it can)."""
    reasons = []
    if not accepts_public_jobs:
        reasons.append("does not accept public jobs")
    elif not directed_pairs(caps):
        reasons.append("no language pair (ASR language -> semantic/TTS language)")
    ready = set(ready_types)
    missing = [t for t in pipeline_types if t not in ready]
    if missing:
        reasons.append("missing " + ", ".join(missing))
    return "; ".join(reasons)


def record_serving_gap(
    record: NodeRecord, pipeline_types: Iterable[str] = DEFAULT_PIPELINE_TYPES
) -> str:
    """`serving_gap` of a node as its record stands."""
    descriptor = node_pb2.NodeDescriptor.FromString(record.descriptor)
    caps = node_pb2.LanguageCapabilities.FromString(record.language_caps)
    return serving_gap(caps, record.ready_types, descriptor.accept_public_jobs, pipeline_types)
