"""Logic of the operator tools without services: metrics arithmetic, credentials, audio
files, the node and pool joins, chart series."""

from __future__ import annotations

import struct
import wave
import zlib
from pathlib import Path

import pytest

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua_common.env import SettingsError
from lingua_common.metrics import aggregate as agg
from lingua_common.metrics.board import lingua_families
from lingua_common.operator_auth import (
    CallCredentials,
    ConsoleAuth,
    TokenTable,
    api_of,
    bearer_token,
)
from lingua_common.ops import views
from services.console import charts
from tools.cli.audio import AudioError, ogg_packets, read_audio

# --- metrics arithmetic --------------------------------------------------------------------

CREATED = agg.series_key("lingua_jobs_created_total", {})


def test_increase_handles_resets_new_and_vanished_replicas() -> None:
    before = {"a": {CREATED: 10.0}, "b": {CREATED: 50.0}, "gone": {CREATED: 7.0}}
    after = {"a": {CREATED: 14.0}, "b": {CREATED: 3.0}, "new": {CREATED: 100.0}}
    # a: +4; b restarted (counts from zero): +3; new: first sight, nothing; gone: nothing.
    assert agg.increase(before, after) == {CREATED: 7.0}


def test_quantile_interpolates_within_a_bucket_as_prometheus_does() -> None:
    buckets = {0.01: 50.0, 0.1: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert agg.quantile(0.5, buckets) == pytest.approx(0.01)
    assert agg.quantile(0.7, buckets) == pytest.approx(0.01 + 0.09 * (20 / 40))
    assert agg.quantile(0.95, buckets) == pytest.approx(0.1 + 0.9 * (5 / 10))
    assert agg.quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    # Beyond the largest finite bound, that bound is all that is known.
    assert agg.quantile(0.99, {0.1: 1.0, float("inf"): 10.0}) == 0.1


def test_snapshot_reads_gauges_as_max_or_sum_and_keeps_only_rate_series() -> None:
    text = (
        "# TYPE lingua_pending_jobs gauge\nlingua_pending_jobs 3.0\n"
        '# TYPE lingua_connections gauge\nlingua_connections{kind="node"} 2.0\n'
        "# TYPE lingua_jobs_created counter\nlingua_jobs_created_total 5.0\n"
    )
    snapshot = agg.Snapshot.of_texts(0, {"a": text, "b": text.replace("3.0", "4.0")})
    assert snapshot.gauge_max(agg.PENDING) == {"lingua_pending_jobs|": 4.0}
    assert snapshot.gauge_sum(agg.CONNECTIONS) == {"lingua_connections|kind=node": 4.0}
    assert snapshot.rate_totals() == {"a": {CREATED: 5.0}, "b": {CREATED: 5.0}}


def test_the_board_keeps_only_lingua_families() -> None:
    text = (
        b"# HELP process_x x\nprocess_x 1\n# HELP lingua_a a\n# TYPE lingua_a gauge\nlingua_a 1\n"
    )
    assert lingua_families(text) == b"# HELP lingua_a a\n# TYPE lingua_a gauge\nlingua_a 1\n"


# --- credentials ---------------------------------------------------------------------------


def test_token_table_maps_tokens_to_tenants_and_star_to_operators() -> None:
    table = TokenTable.parse(" op:* , t1:acme,with:colon:globex")
    assert table.lookup("op").operator  # type: ignore[union-attr]
    acme = table.lookup("t1")
    assert acme is not None and acme.tenant == "acme" and not acme.operator
    assert acme.may_see_tenant("acme") and not acme.may_see_tenant("globex")
    assert table.lookup("with:colon").tenant == "globex"  # type: ignore[union-attr]
    assert table.lookup("t2") is None and table.lookup("") is None
    for bad in ("justtoken", ":acme", "tok:", "tok:a b", "tok:a\x00"):
        with pytest.raises(SettingsError, match="LINGUA_TEAM_TOKENS"):
            TokenTable.parse(bad)


def test_console_auth_refuses_to_start_with_nobody_allowed() -> None:
    with pytest.raises(SettingsError, match="nobody could use the console"):
        ConsoleAuth.from_env({})
    assert ConsoleAuth.from_env({"LINGUA_AUTH_DISABLED": "true"}).principal("").operator  # type: ignore[union-attr]
    auth = ConsoleAuth.from_env({"LINGUA_TEAM_TOKENS": "x:acme"})
    assert auth.principal("x").tenant == "acme"  # type: ignore[union-attr]
    assert auth.principal("y") is None
    # The console takes the team tokens: the old variable is refused, not ignored.
    with pytest.raises(SettingsError, match="LINGUA_TEAM_TOKENS"):
        ConsoleAuth.from_env({"LINGUA_CONSOLE_TOKENS": "x:acme", "LINGUA_AUTH_DISABLED": "1"})


def test_console_reads_the_team_tokens_from_a_mounted_secret(tmp_path: Path) -> None:
    secret = tmp_path / "team-tokens"
    secret.write_text("x:acme,op:*\n")
    auth = ConsoleAuth.from_env({"LINGUA_TEAM_TOKENS_FILE": str(secret)})
    assert auth.principal("op").operator  # type: ignore[union-attr]
    with pytest.raises(SettingsError, match="not both"):
        ConsoleAuth.from_env(
            {"LINGUA_TEAM_TOKENS_FILE": str(secret), "LINGUA_TEAM_TOKENS": "y:acme"}
        )
    with pytest.raises(SettingsError, match="cannot read"):
        ConsoleAuth.from_env({"LINGUA_TEAM_TOKENS_FILE": str(tmp_path / "missing")})


def test_call_credentials_send_the_token_of_each_api() -> None:
    credentials = CallCredentials.from_env(
        {"LINGUA_SERVICE_TOKEN": "svc", "LINGUA_API_TOKEN": "team"}
    )
    assert api_of("SubmitJob") == api_of("WatchJob") == "team"
    assert api_of("ListNodes") == api_of("DrainNode") == "service"
    assert credentials.metadata("team") == (("authorization", "Bearer team"),)
    assert credentials.metadata("service") == (("authorization", "Bearer svc"),)
    assert CallCredentials().metadata("team") == ()
    # Without a team token the service credential (an operator there) is presented.
    assert CallCredentials(service_token="svc").metadata("team") == (
        ("authorization", "Bearer svc"),
    )
    assert bearer_token("Bearer  abc ") == "abc" and bearer_token("Basic abc") == ""


# --- audio files -----------------------------------------------------------------------------


def _wav(path: Path, channels: int = 1, width: int = 2, rate: int = 16_000) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\x01\x02" * 800 * channels)


def test_wav_is_sent_as_pcm16_with_its_rate(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", rate=8_000)
    audio = read_audio(tmp_path / "a.wav")
    assert (audio.audio_format, audio.sample_rate, audio.data) == (
        "pcm16",
        8_000,
        b"\x01\x02" * 800,
    )
    _wav(tmp_path / "s.wav", channels=2)
    with pytest.raises(AudioError, match="2 channels; convert it to mono"):
        read_audio(tmp_path / "s.wav")
    _wav(tmp_path / "b.wav", width=1)
    with pytest.raises(AudioError, match="8-bit WAV"):
        read_audio(tmp_path / "b.wav")
    (tmp_path / "r.pcm").write_bytes(b"\x00" * 320)
    with pytest.raises(AudioError, match="--sample-rate"):
        read_audio(tmp_path / "r.pcm")
    assert read_audio(tmp_path / "r.pcm", 16_000).duration_s == 0.01


def _ogg_page(serial: int, seq: int, packets: list[bytes], continued: bytes = b"") -> bytes:
    lacing = b""
    body = b""
    for packet in packets:
        size = len(packet)
        lacing += b"\xff" * (size // 255) + bytes([size % 255])
        body += packet
    header = b"OggS\x00\x00" + struct.pack("<qIII", 0, serial, seq, 0)
    page = header + bytes([len(lacing)]) + lacing + body
    crc = zlib.crc32(page)  # not Ogg's CRC; the reader does not check it
    return page[:22] + struct.pack("<I", crc) + page[26:] + continued


def test_ogg_opus_is_sent_as_length_framed_packets(tmp_path: Path) -> None:
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48_000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 0) + struct.pack("<I", 0)
    audio = [b"\x10" * 40, b"\x20" * 300, b"\x30" * 255]  # 300 and 255 need a second lacing byte
    other = _ogg_page(99, 0, [b"another stream"])
    data = _ogg_page(7, 0, [head]) + _ogg_page(7, 1, [tags]) + other + _ogg_page(7, 2, audio)
    assert ogg_packets(data) == [head, tags, *audio]
    (tmp_path / "a.opus").write_bytes(data)
    sent = read_audio(tmp_path / "a.opus")
    assert (sent.audio_format, sent.sample_rate) == ("opus", 16_000)
    assert sent.data == b"".join(struct.pack("<H", len(p)) + p for p in audio)
    stereo = head[:9] + bytes([2]) + head[10:]
    (tmp_path / "s.opus").write_bytes(_ogg_page(7, 0, [stereo]) + _ogg_page(7, 1, audio))
    with pytest.raises(AudioError, match="2 Opus channels"):
        read_audio(tmp_path / "s.opus")
    (tmp_path / "t.opus").write_bytes(data[:-10])
    with pytest.raises(AudioError, match="truncated Ogg page"):
        read_audio(tmp_path / "t.opus")


# --- nodes and pools -------------------------------------------------------------------------


def _node(node_id: str, status: int, **fields: object) -> node_pb2.Node:
    defaults: dict[str, object] = {"gateway_id": "gw", "max_jobs": 4, "running_jobs": 0}
    return node_pb2.Node(node_id=node_id, status=status, **(defaults | fields))  # type: ignore[arg-type]


def _pool(src: str, tgt: str, *members: str) -> pool_pb.Pool:
    return pool_pb.Pool(
        pool_id=f"{src}:{tgt}:0", pair=node_pb2.LanguagePair(src=src, tgt=tgt), node_ids=members
    )


def test_each_node_says_why_it_takes_no_job() -> None:
    ready = node_pb2.NODE_STATUS_READY
    nodes = [
        _node("ok", ready),
        _node("full", ready, running_jobs=4),
        _node("orphan", ready, gateway_id=""),
        _node("unindexed", ready),
        _node("unindexed-why", ready, status_reason="not_serving: missing nmt, tts"),
        _node("half", node_pb2.NODE_STATUS_DEGRADED, not_serving="missing nmt, tts"),
        _node("drained", node_pb2.NODE_STATUS_DRAINING, status_reason="maintenance"),
        _node("gone", node_pb2.NODE_STATUS_OFFLINE),
    ]
    pools = [_pool("zh", "en", "ok", "full", "orphan", "drained")]
    reasons = {row.node_id: row.idle_reason for row in views.node_rows(nodes, pools)}
    assert reasons == {
        "ok": "",
        "full": "full (4/4 slots)",
        "orphan": "no gateway holds its socket",
        "unindexed": "in no pool: no language pair with ready services",
        "unindexed-why": "not_serving: missing nmt, tts",
        "half": "not_serving: missing nmt, tts",  # the registry's own field
        "drained": "draining: maintenance",
        "gone": "offline",
    }


def test_pools_count_free_slots_of_nodes_that_take_jobs_and_two_way_pairs() -> None:
    ready = node_pb2.NODE_STATUS_READY
    nodes = [
        _node("a", ready, running_jobs=1),
        _node("b", ready),
        _node("c", node_pb2.NODE_STATUS_DRAINING),
    ]
    pools = [
        _pool("zh", "en", "a", "c"),
        _pool("zh", "en", "b"),  # a second shard of the same pair
        _pool("en", "zh", "a"),
    ]
    rows = {
        views.pair_text(r.pair, r.two_way): r
        for r in views.pool_rows(
            pools,
            nodes,
            # Two-way jobs wait in their own lines: zh<->en and en<->zh as clients spell it.
            {("zh", "en"): 2, ("xx", "yy"): 1, ("zh<->en", "*"): 4, ("en<->zh", "*"): 1},
        )
    }
    assert set(rows) == {"zh→en", "en→zh", "en↔zh", "xx→yy"}
    assert rows["en↔zh"].waiting == 5
    zh_en = rows["zh→en"]
    assert (zh_en.shards, zh_en.nodes, zh_en.ready_nodes, zh_en.free_slots) == (2, 3, 2, 7)
    assert zh_en.waiting == 2 and rows["en→zh"].waiting == 0
    assert (rows["en↔zh"].nodes, rows["en↔zh"].free_slots) == (1, 3)
    assert rows["xx→yy"].nodes == 0 and rows["xx→yy"].waiting == 1
    assert views.pool_rows(pools, nodes, None)[0].waiting is None


# --- chart series ----------------------------------------------------------------------------


def _point(t: int, created: float, dispatch: dict[str, float]) -> dict[str, object]:
    return {
        "t": t,
        "seconds": 2.0,
        "created_per_s": created,
        "finished_per_s": {"completed": created},
        "no_node_per_s": 0.0,
        "dispatch_buckets": dispatch,
        "result_buckets": {},
        "waiting": 0,
        "nodes": {"ready": 2},
    }


def test_latency_percentiles_are_over_a_window_of_points() -> None:
    slow = {"0.01": 0.0, "0.1": 10.0, "inf": 10.0}
    fast = {"0.01": 10.0, "0.1": 10.0, "inf": 10.0}
    points = [_point(0, 5, slow), _point(2_000, 5, fast), _point(40_000, 1, fast)]
    series = charts.series(points, window_ms=30_000)
    assert series["t"] == [0, 2, 40]
    assert series["jobs_per_s"] == [5, 5, 1]
    # The second point's window holds both (20 jobs: 10 fast, 10 slow); the third only itself.
    assert series["dispatch_p50_ms"] == [55.0, 10.0, 5.0]
    assert series["nodes_ready"] == [2, 2, 2]
    assert charts.window_totals(points) == {
        "created": 22,
        "completed": 22,
        "failed": 0,
        "cancelled": 0,
        "since_ms": -2_000,
    }
