"""Building job records for store and Lua tests."""

from __future__ import annotations

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
        tenant_id="",
        gateway_id=gateway_id,
        max_attempts=max_attempts,
        trace_parent=trace_parent,
    )
