"""LINGUA_LUA_DIR: the services read their scripts from a copy of lua/ (how a test
runs a deliberately broken build), and refuse a directory that lacks any script."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lingua_common.env import SettingsError
from lingua_common.keys import Keys
from lingua_common.redis_client import LUA_DIR, LuaScripts, RedisClient
from lingua_common.settings import RedisSettings


def copy_of_lua(tmp_path: Path) -> Path:
    copy = tmp_path / "lua"
    shutil.copytree(LUA_DIR, copy)
    return copy


def test_unset_means_the_repository_scripts() -> None:
    assert RedisSettings.from_env({}).lua_dir == ""


def test_a_complete_copy_is_accepted(tmp_path: Path) -> None:
    copy = copy_of_lua(tmp_path)
    assert RedisSettings.from_env({"LINGUA_LUA_DIR": str(copy)}).lua_dir == str(copy)


def test_a_directory_that_is_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"LINGUA_LUA_DIR .* is not a directory"):
        RedisSettings.from_env({"LINGUA_LUA_DIR": str(tmp_path / "nowhere")})


def test_a_copy_missing_a_script_is_refused_naming_it(tmp_path: Path) -> None:
    copy = copy_of_lua(tmp_path)
    (copy / "slot_release.lua").unlink()
    with pytest.raises(SettingsError, match=r"lacks slot_release\.lua"):
        RedisSettings.from_env({"LINGUA_LUA_DIR": str(copy)})


async def test_scripts_run_from_the_directory_given(
    tmp_path: Path, redis_client: RedisClient, keys: Keys
) -> None:
    copy = copy_of_lua(tmp_path)
    (copy / "slot_release.lua").write_text('return {0, redis.call("HLEN", KEYS[1])}\n')
    inflight = keys.node_inflight("n1")
    await redis_client.hset(inflight, "j1", "1")
    args = ["j1", 1, "ok", 0]
    node_keys = [inflight, keys.node("n1"), keys.node_history("n1")]
    # The broken copy releases nothing; the repository's script releases the slot.
    assert await LuaScripts(redis_client, copy).run("slot_release", node_keys, args) == [0, 1]
    assert await LuaScripts(redis_client, "").run("slot_release", node_keys, args) == [1, 0]
