"""ListJobs: by session (its job index), by node (its slots), or recent jobs by state —
within the caller's scope: a team lists its tenant's recent jobs from the tenant's own
index, and any other listing shows only its tenant's jobs."""

from __future__ import annotations

from lingua_common.limits import PAGE_SIZE_MAX, page_number
from services.dispatcher.model import JobRecord, JobState
from services.dispatcher.store import RedisJobStore
from services.dispatcher.tenancy import Scope

DEFAULT_PAGE_SIZE = 100
# Records read per page at most when filtering recent jobs by state.
SCAN_LIMIT = 5_000
NEWEST = 2**62


async def list_jobs(
    store: RedisJobStore,
    scope: Scope,
    *,
    state: JobState | None,
    node_id: str,
    session_id: str,
    page_size: int,
    page_token: str,
) -> tuple[list[JobRecord], str]:
    """A page of jobs and the next page's token ("" after the last). Raises LimitError
    for a page token no page gave."""
    size = min(page_size or DEFAULT_PAGE_SIZE, PAGE_SIZE_MAX)
    position = page_number("page_token", page_token)
    if session_id:
        ids = await store.session_job_ids(session_id, position, size)
        records = await _records(store, scope, ids, state, node_id)
        return records, str(position + size) if len(ids) == size else ""
    if node_id:
        ids = [job_id for job_id, _ in await store.node_job_ids(node_id)]
        return await _records(store, scope, sorted(ids), state, node_id), ""
    # Recent jobs, newest first; the token is the creation time to continue below.
    before = position or NEWEST
    found: list[JobRecord] = []
    scanned = 0
    while len(found) < size and scanned < SCAN_LIMIT:
        if scope.tenant is None:
            batch = await store.recent_job_ids(before, size)
        else:
            batch = await store.tenant_job_ids(scope.tenant, before, size)
        if not batch:
            return found, ""
        scanned += len(batch)
        found.extend(await _records(store, scope, [job_id for job_id, _ in batch], state, ""))
        before = batch[-1][1]
    if len(found) > size:  # the next page starts after the last one shown
        found, before = found[:size], found[size - 1].created_ms
    return found, str(before)


async def _records(
    store: RedisJobStore, scope: Scope, ids: list[str], state: JobState | None, node_id: str
) -> list[JobRecord]:
    records = []
    for job_id in ids:
        record = await store.get(job_id)
        if record is None or not scope.sees(record):
            continue
        if state is not None and record.state is not state:
            continue
        if node_id and record.node_id != node_id:
            continue
        records.append(record)
    return records
