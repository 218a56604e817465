"""Every Lua script documents its interface and is cluster-safe by construction."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import LUA_DIR

SCRIPTS = sorted(LUA_DIR.glob("*.lua"))


def test_there_are_scripts() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_header_documents_keys_argv_and_return(path: Path) -> None:
    text = path.read_text()
    header = text.split("]]", 1)[0]
    assert header.startswith("--[[")
    used_keys = set(re.findall(r"KEYS\[(\d+)\]", text.split("]]", 1)[1]))
    documented_keys = set(re.findall(r"^KEYS\[(\d+)\]", header, re.M))
    assert used_keys <= documented_keys, (
        f"{path.name}: undocumented KEYS {used_keys - documented_keys}"
    )
    used_argv = set(re.findall(r"ARGV\[(\d+)\]", text.split("]]", 1)[1]))
    documented_argv = set(re.findall(r"^ARGV\[(\d+)\]", header, re.M))
    assert used_argv <= documented_argv, (
        f"{path.name}: undocumented ARGV {used_argv - documented_argv}"
    )
    assert "Returns" in header


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_no_key_names_are_built_inside_lua(path: Path) -> None:
    body = path.read_text().split("]]", 1)[1]
    # Every key argument of a command is KEYS[i] or a local bound to one.
    for call in re.finditer(r'rcall\("(\w+)",\s*([^,)]+)', body):
        command, first = call.group(1), call.group(2).strip()
        if command in {"PUBLISH"}:
            continue
        assert first.startswith("KEYS[") or re.fullmatch(r"[a-z_]+", first), (
            f"{path.name}: {command} on {first}"
        )
    assert "time" not in re.findall(r'rcall\("(\w+)"', body)
    assert 'rcall("TIME"' not in body  # "now" always comes in ARGV


def slot_tag(key: str) -> str:
    match = re.search(r"\{([^}]*)\}", key)
    assert match, key
    return match.group(1)


def test_keys_used_together_share_one_hash_tag() -> None:
    k = Keys("lingua:v1")
    groups = [
        [k.node("n"), k.node_inflight("n"), k.node_owner("n"), k.node_history("n")],
        [k.job("j"), k.job_events("j")],
        [k.session("s"), k.session_owner("s"), k.session_jobs("s")],
        [k.session("s"), k.session_owner("s")],
        [k.session_group("s"), k.session("s"), k.session_owner("s")],
        [k.index_nodes(), k.index_version(), k.index_changes(), k.index_seqs()],
        [k.pending("zh", "en"), k.pending_leases("zh", "en")],
    ]
    for group in groups:
        assert len({slot_tag(key) for key in group}) == 1, group
