"""The table of limits (lingua_common/limits.py): what each kind of field takes, how a
refusal reads (the field's path, a short escaped prefix), and the walk over a message."""

from __future__ import annotations

import pytest

from lingua.common.v1 import job_pb2, node_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua_common import limits
from lingua_common.limits import LimitError, check_message, check_string, page_number, preview


def refusal(field: str, value: str) -> str:
    with pytest.raises(LimitError) as refused:
        check_string(field, value)
    return str(refused.value)


@pytest.mark.parametrize("code", ["zh", "en", "yue", "en-US", "zh-Hant-TW", "zh_CN", "auto"])
def test_language_codes_are_short_and_bcp47_like(code: str) -> None:
    check_string("src_lang", code)


@pytest.mark.parametrize("code", ["e", "english please", "zh-", "1zh", "zh;en", "x" * 36, "中文"])
def test_other_language_names_are_refused(code: str) -> None:
    assert "'src_lang'" in refusal("src_lang", code)


def test_ids_tenants_and_pool_ids_have_their_characters_and_lengths() -> None:
    for good in ("n-1", "sess-0f3a", "j-abc", "gw-host.example-12", "batch-42/0", "a:b@c+d=e~f"):
        check_string("node_id", good)
    for bad in ("a b", "n\x00", "{node:x}", "n*", "x" * 129, "é"):
        assert "'node_id'" in refusal("node_id", bad)
    check_string("tenant_id", "team-a.eu_1")
    for bad in ("a:b", "*", "acme\x00", "t" * 65):
        assert "'tenant_id'" in refusal("tenant_id", bad)
    for good in ("zh:en#0", "en<->zh#12"):
        check_string("preferred_pool_id", good)


def test_audio_formats_sample_rates_and_page_sizes() -> None:
    check_string("audio_format", "pcm16")
    assert "must be one of" in refusal("audio_format", "wav;$(reboot)")
    spec = job_pb2.JobSpec(sample_rate=2**32 - 1)
    with pytest.raises(LimitError, match=r"'sample_rate' must be within 8000\.\.192000"):
        check_message(spec)
    check_message(job_pb2.JobSpec(sample_rate=48_000))
    with pytest.raises(LimitError, match="'page_size'"):
        check_message(dispatcher_pb.ListJobsRequest(page_size=limits.PAGE_SIZE_MAX + 1))


def test_page_tokens_are_bounded_numbers() -> None:
    assert page_number("page_token", "") == 0
    assert page_number("page_token", "1700000000000") == 1_700_000_000_000
    for bad in ("1" + "0" * 30, "-1", "1e3", "١٢", str(2**53 + 1)):
        with pytest.raises(LimitError, match="'page_token'"):
            page_number("page_token", bad)


def test_event_ids_are_two_64_bit_numbers() -> None:
    for good in ("0-0", "1700000000000-3", f"{2**64 - 1}-0"):
        check_string("after_event_id", good)
    for bad in ("$", "1-", "-1", "a-b", f"{2**64}-0", "99999999999999999999-1"):
        assert "'after_event_id'" in refusal("after_event_id", bad)


def test_a_refusal_names_the_path_and_shows_a_short_escaped_prefix() -> None:
    request = registry_pb.RegisterNodeRequest(
        node_id="n-1",
        descriptor=node_pb2.NodeDescriptor(
            installed_models=[
                node_pb2.InstalledModel(model_id="m-1", kind="asr", version="1"),
                node_pb2.InstalledModel(model_id="m\x00" + "x" * 200_000, kind="asr", version="1"),
            ]
        ),
    )
    with pytest.raises(LimitError) as refused:
        check_message(request)
    message = str(refused.value)
    assert refused.value.field == "descriptor.installed_models[1].model_id"
    assert "200002 characters; at most 128" in message and len(message) < 200
    shown = preview("\x00\x1b[31m" + "y" * 100)
    assert shown.startswith("'\\x00\\x1b[31m") and shown.endswith("…") and len(shown) < 40


def test_lists_bytes_and_enums_are_bounded() -> None:
    too_many = dispatcher_pb.SubmitJobRequest(auto_langs=["zh"] * 17)
    with pytest.raises(LimitError, match="'auto_langs' has too many entries"):
        check_message(too_many)
    languages = node_pb2.LanguageCapabilities(asr_languages=["zh"] * 513)
    with pytest.raises(LimitError, match="'asr_languages'"):
        check_message(languages)
    audio = dispatcher_pb.SubmitJobRequest(audio=b"x" * (limits.AUDIO_MAX_BYTES + 1))
    with pytest.raises(LimitError, match="'audio' is too large"):
        check_message(audio)
    unknown_state = dispatcher_pb.ListJobsRequest(state=42)  # type: ignore[arg-type]
    with pytest.raises(LimitError, match="'state' has no value 42"):
        check_message(unknown_state)
    # Unset fields are not checked (required-ness is each call's own).
    check_message(dispatcher_pb.SubmitJobRequest())
