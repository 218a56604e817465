"""The protocol checker, the URLs and the pure answer bookkeeping."""

from __future__ import annotations

from tools.fleet import node_caps, payload
from tools.fleet.answers import Answer, AnswerBook
from tools.fleet.schema import ViolationLog, check
from tools.fleet.wire import endpoint_url


def test_check_flags_missing_null_wrong_type_and_unknown() -> None:
    ok = {"type": "session_close_ack", "session_id": "s"}
    assert check("client_in", ok) == []
    assert check("client_in", {"type": "session_close_ack"}) == [
        "session_close_ack.session_id: required field missing"
    ]
    ack = {"type": "node_register_ack", "node_id": "n", "message": "m", "status": None}
    assert "null" in check("node_in", ack)[0]
    result = {"type": "missing_result", "session_id": "s", "utterance_index": -1}
    problems = check("client_in", {**result, "reason": "r", "created_at_ms": 1})
    assert problems == ["missing_result.utterance_index: expected uint, got -1"]
    assert check("client_in", {**ok, "extra": 1}) == []  # peers ignore unknown fields
    assert check("client_in", {**ok, "extra": 1}, strict=True) == [
        "session_close_ack.extra: unknown field"
    ]
    assert check("client_in", {"type": "nope"}) == ["unknown message type 'nope' for client_in"]


def test_check_nested_structs_and_enums() -> None:
    register = node_caps.register_message([("zh", "en")], None)
    assert check("node_out", register, strict=True) == []
    assert "node_id" not in register  # omitted, not null, on first connect
    bad = {**register, "platform": "beos", "hardware": {"cpu_cores": 8, "memory_gb": 1.5}}
    assert check("node_out", bad) == [
        "node_register.platform: 'beos' is not one of ['windows', 'linux', 'macos']",
        "node_register.hardware.memory_gb: expected uint, got 1.5",
    ]
    capability = {"type": "asr", "ready": True, "devices": ["gpu0"]}  # extras allowed here
    assert check("node_out", {**register, "capability_by_type": [capability]}, strict=True) == []


def test_language_capabilities_come_from_pairs() -> None:
    caps = node_caps.language_capabilities([("zh", "en"), ("en", "zh"), ("ja", "en")])
    assert caps["asr_languages"] == ["en", "ja", "zh"]
    assert caps["semantic_languages"] == ["en", "zh"]
    assert caps["tts_languages"] == ["en", "zh"]


def test_violation_log_ignores_unknown_kinds_and_bounds_samples() -> None:
    log = ViolationLog("client_in", keep=2)
    assert log.observe({"type": "brand_new_kind"}) == []
    for _ in range(5):
        assert log.observe({"type": "server_heartbeat"})
    assert log.count == 5
    assert len(log.samples) == 2


def test_endpoint_url() -> None:
    assert endpoint_url("ws://h:5010", "/ws/node") == "ws://h:5010/ws/node"
    assert endpoint_url("ws://h:5010/", "/ws/node", {"token": None}) == "ws://h:5010/ws/node"
    assert endpoint_url("ws://h:5010/ws/node", "/ws/node", {"token": "a b"}) == (
        "ws://h:5010/ws/node?token=a+b"
    )
    assert endpoint_url("ws://h/x?v=1", "/ws/session", {"api_key": "k"}) == (
        "ws://h/x/ws/session?v=1&api_key=k"
    )


def _result(index: int, asr: str, translated: str) -> dict[str, object]:
    return {
        "type": "translation_result",
        "utterance_index": index,
        "text_asr": asr,
        "text_translated": translated,
    }


def test_answer_book_classifies_answers() -> None:
    seen: list[Answer] = []
    book = AnswerBook("c", "en", on_answer=seen.append)
    audios = [payload.make_audio("c", i, 3) for i in range(6)]
    for i, audio in enumerate(audios):
        book.sent(i, audio, float(i))
    right = payload.asr_text_for(audios[0])
    assert book.on_message(_result(0, right, "en:" + right), 0.5) is not None
    book.on_message(_result(1, right, "en:" + right), 1.5)  # audio 0's text: wrong
    book.on_message(_result(2, "", ""), 2.5)
    book.on_message({"type": "missing_result", "utterance_index": 4}, 4.5)
    book.on_message({"type": "translation_result", "utterance_index": 3}, 4.6)  # late: empty
    error = {"type": "error", "code": "JOB_TIMEOUT", "details": {"utterance_index": 5}}
    book.on_message(error, 5.5)
    book.on_message({"type": "error", "code": "INVALID_MESSAGE"}, 5.6)
    book.on_message(_result(0, right, "en:" + right), 5.7)  # duplicate
    book.on_message(_result(9, right, "en:" + right), 5.8)  # never sent
    book.on_message({"type": "ui_event"}, 5.9)
    report = book.report()
    assert (report.sent, report.answered, report.correct, report.wrong) == (6, 6, 1, 1)
    assert (report.empty, report.missing_results) == (2, 1)
    assert report.errors_by_code == {"JOB_TIMEOUT": 1}
    assert report.session_errors == {"INVALID_MESSAGE": 1}
    assert (report.duplicates, report.unexpected, report.unanswered) == (1, 1, 0)
    assert report.out_of_order == 1  # index 3 after 4
    assert [a.kind for a in seen] == ["result", "result", "empty", "missing", "empty", "error"]
    assert seen[0].correct is True and seen[1].correct is False
    assert seen[0].latency_s == 0.5


def test_answer_book_checks_the_translation_language() -> None:
    book = AnswerBook("c", "en")
    audio = payload.make_audio("c", 0, 3)
    book.sent(0, audio, 0.0)
    asr = payload.asr_text_for(audio)
    answer = book.on_message(_result(0, asr, "zh:" + asr), 1.0)
    assert answer is not None and answer.correct is False


def test_check_holds_values_to_the_gateways_table_of_limits() -> None:
    utterance = {
        "type": "utterance",
        "session_id": "sess-1",
        "utterance_index": 0,
        "manual_cut": True,
        "src_lang": "zh",
        "tgt_lang": "en",
        "audio": "QUJD" * 10_000,  # base64 is bounded in bytes by the gateway, not here
        "audio_format": "opus",
        "sample_rate": 16000,
    }
    assert check("client_out", utterance, strict=True) == []
    bad = {**utterance, "sample_rate": 2**32 - 1, "src_lang": "z" * 900, "session_id": "a b"}
    problems = check("client_out", bad)
    assert [p.split(":")[0] for p in problems] == [
        "utterance.session_id",
        "utterance.src_lang",
        "utterance.sample_rate",
    ]
