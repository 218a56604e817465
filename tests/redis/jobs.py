"""Building job records for store and Lua tests."""

from __future__ import annotations

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts
from services.dispatcher.store import NewJobRecord


def new_job(
    job_id: str,
    *,
    request_id: str = "",
    session_id: str = "s1",
    utterance_index: int = 0,
    gateway_id: str = "gw-a",
    max_attempts: int = 3,
    trace_parent: str = "",
    tenant_id: str = "",
) -> NewJobRecord:
    return NewJobRecord(
        job_id=job_id,
        request_id=request_id or job_id,
        spec=b"spec",
        trace_id=f"trace-{job_id}",
        session_id=session_id,
        utterance_index=utterance_index,
        src_lang="zh",
        tgt_lang="en",
        tenant_id=tenant_id,
        gateway_id=gateway_id,
        max_attempts=max_attempts,
        trace_parent=trace_parent,
    )


# --- the job scripts alone, for tests of what watches them ---------------------------------

NOW = 1_700_000_000_000


async def create(lua: LuaScripts, keys: Keys, job: str, request: str = "r1") -> list[object]:
    result: list[object] = await lua.run(
        "job_create",
        [keys.job(job), keys.job_events(job)],
        [
            NOW,
            request,
            b"spec",
            "trace1",
            "s1",
            3,
            "zh",
            "en",
            "tenant",
            "gw-a",
            3_600_000,
            3,
            # No first attempt (node, epoch, pool): created, not placed.
            "",
            "",
            0,
            "",
            NOW + 3000,
        ],
    )
    return result


async def assign(lua: LuaScripts, keys: Keys, job: str, node: str, attempt: int) -> int:
    result = await lua.run(
        "job_assign",
        [keys.job(job), keys.job_events(job)],
        [node, attempt, NOW, NOW + 3000, "zh:en#0", 1],
    )
    return int(result[0])


async def finish(lua: LuaScripts, keys: Keys, job: str, node: str = "n1", attempt: int = 1) -> int:
    result = await lua.run(
        "job_finish",
        [keys.job(job), keys.job_events(job)],
        [NOW + 5, "completed", node, attempt, b"result", "", "", 600_000, ""],
    )
    return int(result[0])
