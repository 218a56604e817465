"""Which nodes a job needs: a directed pair, or a pair served in both directions.

A one-way job (`zh` -> `en`) needs a node serving that directed pair. A two-way job
(PROTOCOL.md "two-way automatic mode": `src_lang` "auto", `mode` two_way_auto, `lang_a`,
`lang_b`) needs a node that serves the pair in both directions: the node detects which
of the two was spoken and translates into the other. `auto` is never a language.

A route has a pair-shaped key for the places that keep jobs per pair (the dispatcher's
waiting lines, a job record's src/tgt): `(src, tgt)` for a directed route, and
`("zh<->en", "*")` for a two-way one, so the two can never share a line. `label` is how
a person reads it ("zh->en", "zh<->en"), e.g. in NO_AVAILABLE_NODE.
"""

from __future__ import annotations

from dataclasses import dataclass

from lingua.common.v1 import job_pb2
from lingua_common.language_index import BOTH_WAYS, Pair

AUTO_LANG = "auto"
# The tgt half of a two-way route's key: "either language of the pair".
EITHER = "*"


class RouteError(ValueError):
    """A job whose languages name no route (the message names the field)."""


@dataclass(frozen=True)
class Route:
    src: str
    tgt: str
    both_ways: bool = False

    @property
    def label(self) -> str:
        return f"{self.src}{BOTH_WAYS}{self.tgt}" if self.both_ways else f"{self.src}->{self.tgt}"

    @property
    def key(self) -> Pair:
        return (self.label, EITHER) if self.both_ways else (self.src, self.tgt)

    @property
    def index_pair(self) -> Pair:
        """The pair the language index is asked about (sorted for a two-way route)."""
        if self.both_ways:
            a, b = sorted((self.src, self.tgt))
            return (a, b)
        return (self.src, self.tgt)


def is_two_way(spec: job_pb2.JobSpec) -> bool:
    return spec.mode == job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO or spec.src_lang == AUTO_LANG


def route_of(spec: job_pb2.JobSpec) -> Route:
    """The route of a job; RouteError (naming the field) when its languages do not add up."""
    if not spec.src_lang or not spec.tgt_lang:
        raise RouteError("fields 'src_lang' and 'tgt_lang' must not be empty")
    if spec.tgt_lang == AUTO_LANG:
        raise RouteError("field 'tgt_lang' must be a language, not 'auto'")
    if not is_two_way(spec):
        return Route(spec.src_lang, spec.tgt_lang)
    # Two-way: the pair is lang_a/lang_b; a session that names a concrete source and
    # target without them means that pair.
    concrete_src = spec.src_lang if spec.src_lang != AUTO_LANG else ""
    lang_a = spec.lang_a if spec.HasField("lang_a") and spec.lang_a else concrete_src
    lang_b = spec.lang_b if spec.HasField("lang_b") and spec.lang_b else ""
    if not lang_b and concrete_src:
        lang_b = spec.tgt_lang
    if not lang_a or not lang_b:
        raise RouteError(
            "src_lang 'auto' (mode two_way_auto) needs fields 'lang_a' and 'lang_b': "
            "the two languages of the conversation"
        )
    if AUTO_LANG in (lang_a, lang_b):
        raise RouteError("fields 'lang_a' and 'lang_b' must be languages, not 'auto'")
    if lang_a == lang_b:
        raise RouteError("fields 'lang_a' and 'lang_b' must be two different languages")
    return Route(lang_a, lang_b, both_ways=True)


def route_of_key(src: str, tgt: str) -> Route:
    """The route a pair-shaped key (Route.key) stands for."""
    if tgt == EITHER:
        a, sep, b = src.partition(BOTH_WAYS)
        if sep and a and b:
            return Route(a, b, both_ways=True)
    return Route(src, tgt)


def label_of_key(src: str, tgt: str) -> str:
    """How a person reads a pair-shaped key: "zh->en", "zh<->en"."""
    return route_of_key(src, tgt).label


def route_keys_served(pairs: frozenset[Pair]) -> frozenset[Pair]:
    """Every route key a node with these directed pairs can serve: its pairs, and both
    spellings of each pair it serves in both directions."""
    keys = set(pairs)
    for src, tgt in pairs:
        if (tgt, src) in pairs:
            keys.add(Route(src, tgt, both_ways=True).key)
    return frozenset(keys)
