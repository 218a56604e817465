"""ListJobs: by session (its job index), by node (its slots), or recent jobs by state."""

from __future__ import annotations

from services.dispatcher.model import JobRecord, JobState
from services.dispatcher.store import RedisJobStore

MAX_PAGE_SIZE = 500
# Records read per page at most when filtering recent jobs by state.
SCAN_LIMIT = 5_000


async def list_jobs(
    store: RedisJobStore,
    *,
    state: JobState | None,
    node_id: str,
    session_id: str,
    page_size: int,
    page_token: str,
) -> tuple[list[JobRecord], str]:
    size = min(page_size or 100, MAX_PAGE_SIZE)
    if session_id:
        offset = _int_token(page_token)
        ids = await store.session_job_ids(session_id, offset, size)
        records = await _records(store, ids, state, node_id)
        return records, str(offset + size) if len(ids) == size else ""
    if node_id:
        ids = [job_id for job_id, _ in await store.node_job_ids(node_id)]
        return await _records(store, sorted(ids), state, node_id), ""
    # Recent jobs, newest first; the token is the creation time to continue below.
    before = _int_token(page_token) or 2**62
    found: list[JobRecord] = []
    scanned = 0
    while len(found) < size and scanned < SCAN_LIMIT:
        batch = await store.recent_job_ids(before, size)
        if not batch:
            return found, ""
        scanned += len(batch)
        found.extend(await _records(store, [job_id for job_id, _ in batch], state, ""))
        before = batch[-1][1]
    return found[:size], str(before)


async def _records(
    store: RedisJobStore, ids: list[str], state: JobState | None, node_id: str
) -> list[JobRecord]:
    records = []
    for job_id in ids:
        record = await store.get(job_id)
        if record is None or (state is not None and record.state is not state):
            continue
        if node_id and record.node_id != node_id:
            continue
        records.append(record)
    return records


def _int_token(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise ValueError("malformed page_token")
    return int(token)
