"""Which jobs a team API caller may see, and the request keys its jobs are created under.

A team caller sees, watches, cancels and lists only its own tenant's jobs; another
tenant's job is answered exactly as a job that does not exist (NOT_FOUND), so a caller
learns nothing of it. An operator (tenant `*`, or the scheduler's service credential)
sees every tenant.

A team's request id is namespaced by its tenant before the job id derives from it:
`api:<tenant>:<request id>`. Tenant ids have no ":" and WebSocket jobs' request ids
start with their gateway-made session id (`sess-…:<index>:<target>`), so no caller can
name another tenant's job or a session's.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.dispatcher.errors import TenantMismatch
from services.dispatcher.model import JobRecord

TEAM_REQUEST_PREFIX = "api"


@dataclass(frozen=True)
class Scope:
    """The jobs a caller may see: one tenant's, or every tenant's (`tenant` None)."""

    tenant: str | None

    @property
    def everyone(self) -> bool:
        return self.tenant is None

    def sees(self, record: JobRecord) -> bool:
        return self.tenant is None or record.tenant_id == self.tenant

    def tenant_of_new_job(self, named: str) -> str:
        """The tenant a submitted job belongs to: the caller's own (`named` may repeat
        it); an operator names any tenant (or none)."""
        if self.tenant is None:
            return named
        if named and named != self.tenant:
            raise TenantMismatch(
                "tenant_id names another tenant than your credentials (leave it empty)"
            )
        return self.tenant


EVERYONE = Scope(None)


def team_request_key(tenant: str, request_id: str) -> str:
    """The key a team's job is created under (its job id derives from it)."""
    return f"{TEAM_REQUEST_PREFIX}:{tenant}:{request_id}"


def caller_request_id(record: JobRecord) -> str:
    """The request id as its team sent it (the namespace taken off)."""
    prefix = team_request_key(record.tenant_id, "")
    if record.request_id.startswith(prefix):
        return record.request_id[len(prefix) :]
    return record.request_id
