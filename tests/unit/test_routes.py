"""Routes of jobs (lingua_common/routes.py): a directed pair, or a pair both ways for the
two-way automatic mode."""

from __future__ import annotations

import pytest

from lingua.common.v1 import job_pb2
from lingua_common.routes import (
    Route,
    RouteError,
    label_of_key,
    route_keys_served,
    route_of,
    route_of_key,
)

TWO_WAY = job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO


def spec(src: str, tgt: str, **options: object) -> job_pb2.JobSpec:
    return job_pb2.JobSpec(src_lang=src, tgt_lang=tgt, **options)  # type: ignore[arg-type]


def test_a_one_way_job_needs_its_directed_pair() -> None:
    route = route_of(spec("zh", "en"))
    assert (route, route.label, route.key, route.index_pair) == (
        Route("zh", "en"),
        "zh->en",
        ("zh", "en"),
        ("zh", "en"),
    )


def test_the_web_clients_two_way_session_needs_the_pair_both_ways() -> None:
    route = route_of(spec("auto", "en", mode=TWO_WAY, lang_a="zh", lang_b="en"))
    assert route == Route("zh", "en", both_ways=True)
    assert route.label == "zh<->en"  # what NO_AVAILABLE_NODE names, never auto->en
    assert route.key == ("zh<->en", "*")  # its own waiting line
    assert route.index_pair == ("en", "zh")  # one pool per unordered pair
    assert route_of_key(*route.key) == route and label_of_key(*route.key) == "zh<->en"
    assert label_of_key("zh", "en") == "zh->en"


def test_auto_alone_or_two_way_with_concrete_languages() -> None:
    # src "auto" means two-way even without the mode field.
    assert route_of(spec("auto", "en", lang_a="ja", lang_b="en")).both_ways
    # The mode with a concrete pair and no lang_a/lang_b: that pair, both ways.
    assert route_of(spec("zh", "en", mode=TWO_WAY)) == Route("zh", "en", both_ways=True)


@pytest.mark.parametrize(
    ("job", "named"),
    [
        (spec("auto", "en"), "'lang_a' and 'lang_b'"),
        (spec("auto", "en", lang_a="zh"), "'lang_a' and 'lang_b'"),
        (spec("auto", "en", lang_a="en", lang_b="en"), "two different languages"),
        (spec("auto", "en", lang_a="auto", lang_b="en"), "not 'auto'"),
        (spec("zh", "auto"), "'tgt_lang'"),
        (spec("", "en"), "'src_lang'"),
    ],
)
def test_a_route_that_does_not_add_up_is_refused_naming_the_field(
    job: job_pb2.JobSpec, named: str
) -> None:
    with pytest.raises(RouteError, match=named):
        route_of(job)


def test_a_node_serving_both_directions_serves_both_spellings_of_the_two_way_key() -> None:
    keys = route_keys_served(frozenset({("zh", "en"), ("en", "zh"), ("en", "de")}))
    assert keys == {
        ("zh", "en"),
        ("en", "zh"),
        ("en", "de"),
        ("zh<->en", "*"),
        ("en<->zh", "*"),
    }
