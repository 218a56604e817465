"""Malformed inbound messages (services/gateway/wire/node_in.py, client_in.py, fields.py):
a missing required field or a wrong type raises WireError, and its message names the field."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lingua.common.v1 import job_pb2
from services.gateway.wire import client_in, node_in
from services.gateway.wire.fields import WireError

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_IN = {
    **json.loads((GOLDEN / "node_in.json").read_text()),
    **json.loads((GOLDEN / "client_in.json").read_text()),
}
DELETE = object()

PARSERS: dict[str, Callable[[dict[str, Any]], object]] = {
    "node_register": node_in.parse_node_register,
    "node_heartbeat": node_in.parse_node_heartbeat,
    "job_ack": node_in.parse_job_progress,
    "job_started": node_in.parse_job_progress,
    "asr_partial": node_in.parse_asr_partial,
    "job_result": node_in.parse_job_result,
    "job_result_failed": node_in.parse_job_result,
    "node_error": node_in.parse_node_error,
    "session_init": client_in.parse_session_init,
    "audio_chunk": lambda m: client_in.parse_audio_chunk(m, max_bytes=1024),
    "utterance": lambda m: client_in.parse_utterance(m, job_pb2.JobSpec(), max_audio_bytes=1024),
    "client_heartbeat": client_in.parse_client_heartbeat,
    "session_close": client_in.parse_session_close,
    "tts_started": lambda m: client_in.parse_tts_playback(m, ended=False),
    "tts_play_ended": lambda m: client_in.parse_tts_playback(m, ended=True),
}


def mutated(kind: str, path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    msg = copy.deepcopy(GOLDEN_IN[kind])
    target = msg
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return msg


MISSING = [
    ("node_register", ("version",), "version"),
    ("node_register", ("hardware",), "hardware"),
    ("node_register", ("hardware", "cpu_cores"), "hardware.cpu_cores"),
    ("node_register", ("hardware", "gpus", 0, "name"), "hardware.gpus[0].name"),
    ("node_register", ("installed_models",), "installed_models"),
    ("node_register", ("installed_models", 0, "kind"), "installed_models[0].kind"),
    ("node_register", ("installed_services", 0, "status"), "installed_services[0].status"),
    ("node_register", ("capability_by_type", 1, "ready"), "capability_by_type[1].ready"),
    ("node_register", ("features_supported",), "features_supported"),
    ("node_register", ("accept_public_jobs",), "accept_public_jobs"),
    ("node_heartbeat", ("node_id",), "node_id"),
    ("node_heartbeat", ("timestamp",), "timestamp"),
    ("node_heartbeat", ("resource_usage", "mem_percent"), "resource_usage.mem_percent"),
    ("node_heartbeat", ("installed_services",), "installed_services"),
    ("node_heartbeat", ("capability_by_type",), "capability_by_type"),
    ("job_ack", ("attempt_id",), "attempt_id"),
    ("job_started", ("trace_id",), "trace_id"),
    ("asr_partial", ("is_final",), "is_final"),
    ("asr_partial", ("trace_id",), "trace_id"),
    ("job_result", ("success",), "success"),
    ("job_result", ("utterance_index",), "utterance_index"),
    ("job_result", ("segments_meta", "count"), "segments_meta.count"),
    ("job_result_failed", ("error", "code"), "error.code"),
    ("node_error", ("code",), "code"),
    ("session_init", ("client_version",), "client_version"),
    ("session_init", ("platform",), "platform"),
    ("session_init", ("src_lang",), "src_lang"),
    ("audio_chunk", ("seq",), "seq"),
    ("audio_chunk", ("is_final",), "is_final"),
    ("utterance", ("manual_cut",), "manual_cut"),
    ("utterance", ("audio",), "audio"),
    ("utterance", ("sample_rate",), "sample_rate"),
    ("utterance", ("pipeline", "use_tts"), "pipeline.use_tts"),
    ("client_heartbeat", ("session_id",), "session_id"),
    ("client_heartbeat", ("timestamp",), "timestamp"),
    ("session_close", ("session_id",), "session_id"),
    ("session_close", ("reason",), "reason"),
    ("tts_started", ("trace_id",), "trace_id"),
    ("tts_started", ("ts_start_ms",), "ts_start_ms"),
    ("tts_play_ended", ("group_id",), "group_id"),
]


@pytest.mark.parametrize(("kind", "path", "field"), MISSING)
def test_a_missing_required_field_is_named(kind, path, field):
    with pytest.raises(WireError, match=re.escape(f"missing required field '{field}'")):
        PARSERS[kind](mutated(kind, path, DELETE))


@pytest.mark.parametrize(("kind", "path", "field"), MISSING[:6])
def test_a_null_required_field_counts_as_missing(kind, path, field):
    with pytest.raises(WireError, match=re.escape(f"'{field}'")):
        PARSERS[kind](mutated(kind, path, None))


WRONG = [
    # a string for an integer
    ("audio_chunk", ("seq",), "7", "seq"),
    ("utterance", ("sample_rate",), "16000", "sample_rate"),
    ("node_register", ("hardware", "cpu_cores"), "16", "hardware.cpu_cores"),
    # a bool for an integer
    ("job_result", ("attempt_id",), True, "attempt_id"),
    ("node_heartbeat", ("timestamp",), False, "timestamp"),
    ("utterance", ("utterance_index",), True, "utterance_index"),
    # a negative unsigned
    ("audio_chunk", ("seq",), -1, "seq"),
    ("node_heartbeat", ("resource_usage", "running_jobs"), -1, "resource_usage.running_jobs"),
    ("job_result", ("utterance_index",), -3, "utterance_index"),
    # a float for an integer
    ("job_result", ("processing_time_ms",), 4.5, "processing_time_ms"),
    # beyond the range of the field
    ("audio_chunk", ("seq",), 2**64, "seq"),
    ("utterance", ("sample_rate",), 2**32, "sample_rate"),
    ("node_register", ("hardware", "cpu_cores"), 2**40, "hardware.cpu_cores"),
    ("node_heartbeat", ("resource_usage", "running_jobs"), 2**32, "resource_usage.running_jobs"),
    ("job_ack", ("attempt_id",), 2**32, "attempt_id"),
    ("job_result", ("part_index",), 2**32, "part_index"),
    ("job_result", ("node_completed_at_ms",), 2**63, "node_completed_at_ms"),
    ("session_init", ("partial_update_interval_ms",), 2**32, "partial_update_interval_ms"),
    # other wrong types
    ("asr_partial", ("is_final",), "yes", "is_final"),
    ("utterance", ("manual_cut",), 1, "manual_cut"),
    ("node_heartbeat", ("resource_usage", "cpu_percent"), "12%", "resource_usage.cpu_percent"),
    ("node_register", ("hardware",), [16, 64], "hardware"),
    ("node_register", ("advanced_features",), "streaming_asr", "advanced_features"),
    (
        "node_register",
        ("capability_by_type",),
        [{"type": "asr", "ready": True}, "tts"],
        "capability_by_type",
    ),
    ("session_init", ("auto_langs",), ["zh", 1], "auto_langs"),
    ("job_result", ("text_asr",), 42, "text_asr"),
    ("job_result", ("extra",), "happy", "extra"),
    ("client_heartbeat", ("session_id",), 42, "session_id"),
    ("client_heartbeat", ("timestamp",), "now", "timestamp"),
    ("session_close", ("reason",), ["bye"], "reason"),
    ("tts_play_ended", ("ts_end_ms",), -5, "ts_end_ms"),
    # invalid base64
    ("audio_chunk", ("payload",), "not base64!", "payload"),
    ("utterance", ("audio",), "AAE", "audio"),
    ("job_result", ("tts_audio",), "%%%%", "tts_audio"),
    # an enum value outside the allowed set
    ("node_register", ("platform",), "beos", "platform"),
    (
        "node_register",
        ("language_capabilities", "nmt_capabilities", 0, "rule"),
        "some_pairs",
        "language_capabilities.nmt_capabilities[0].rule",
    ),
    ("session_init", ("platform",), "symbian", "platform"),
    ("session_init", ("mode",), "three_way", "mode"),
    ("utterance", ("mode",), "ONE_WAY", "mode"),
]


@pytest.mark.parametrize(("kind", "path", "value", "field"), WRONG)
def test_a_wrongly_typed_field_is_named(kind, path, value, field):
    with pytest.raises(WireError, match=re.escape(f"field '{field}'")):
        PARSERS[kind](mutated(kind, path, value))


def test_an_oversized_base64_payload_is_refused_before_decoding():
    msg = mutated("audio_chunk", ("payload",), "A" * 4096)
    with pytest.raises(WireError, match="field 'payload' exceeds 1024 bytes"):
        client_in.parse_audio_chunk(msg, max_bytes=1024)


@pytest.mark.parametrize("kind", ["session_init", "utterance"])
def test_empty_languages_are_refused(kind):
    with pytest.raises(WireError, match="'tgt_lang'"):
        PARSERS[kind](mutated(kind, ("tgt_lang",), ""))


def test_the_largest_valid_values_are_accepted():
    chunk = client_in.parse_audio_chunk(mutated("audio_chunk", ("seq",), 2**64 - 1), 1024)
    assert chunk.seq == 2**64 - 1
    spec = PARSERS["utterance"](mutated("utterance", ("sample_rate",), 192_000))
    assert isinstance(spec, job_pb2.JobSpec) and spec.sample_rate == 192_000
    # A uint32 is not a sample rate (the table of limits: 8 kHz .. 192 kHz).
    with pytest.raises(WireError, match=r"'sample_rate' must be within 8000\.\.192000"):
        PARSERS["utterance"](mutated("utterance", ("sample_rate",), 2**32 - 1))
    result = node_in.parse_job_result(mutated("job_result", ("node_completed_at_ms",), 2**63 - 1))
    assert result.result.node_completed_at_ms == 2**63 - 1


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_every_golden_inbound_message_is_valid(kind):
    PARSERS[kind](copy.deepcopy(GOLDEN_IN[kind]))
