"""Every span and attribute name the services emit, in one place.

SREs search Jaeger by these; a rename here is a rename everywhere. Attributes of our own
live under `lingua.`; standard ones (rpc.*, db.*) come from the instrumentations.
"""

from __future__ import annotations

from typing import Final

# --- spans -------------------------------------------------------------------------------------

# Gateway: an utterance became a job request (the root of the job's trace).
GATEWAY_UTTERANCE: Final = "gateway.utterance"
# Gateway: a node's job_result / progress message on its way to the dispatcher.
GATEWAY_NODE_RESULT: Final = "gateway.node_result"
GATEWAY_NODE_EVENT: Final = "gateway.node_event"
# Gateway: a message written to a node's or a session's socket.
GATEWAY_SEND_TO_NODE: Final = "gateway.send_to_node"
GATEWAY_SEND_TO_SESSION: Final = "gateway.send_to_session"

# Dispatcher: the life of a job.
DISPATCHER_CREATE: Final = "dispatcher.job.create"
DISPATCHER_PLACE: Final = "dispatcher.job.place"
DISPATCHER_SELECT: Final = "dispatcher.job.select"
DISPATCHER_RESERVE: Final = "dispatcher.job.reserve"
DISPATCHER_DELIVER: Final = "dispatcher.job.deliver"
DISPATCHER_PEND: Final = "dispatcher.job.pend"
DISPATCHER_DISPATCH_PENDING: Final = "dispatcher.job.dispatch_pending"
DISPATCHER_COMPLETE: Final = "dispatcher.job.complete"
DISPATCHER_EVENT: Final = "dispatcher.job.event"
DISPATCHER_TIMEOUT: Final = "dispatcher.job.timeout"
DISPATCHER_FAILOVER: Final = "dispatcher.job.failover"
DISPATCHER_CANCEL: Final = "dispatcher.job.cancel"
DISPATCHER_FAIL: Final = "dispatcher.job.fail"
DISPATCHER_NOTIFY: Final = "dispatcher.job.notify"

# Pool index: a candidate lookup answered by the pool service itself.
POOL_FIND_CANDIDATES: Final = "pool.find_candidates"

# Registry: a node taken offline (its jobs fail over; their spans link here).
REGISTRY_NODE_OFFLINE: Final = "registry.node.offline"

# --- attributes --------------------------------------------------------------------------------

JOB_ID: Final = "lingua.job.id"
JOB_ATTEMPT: Final = "lingua.job.attempt"
JOB_STATE: Final = "lingua.job.state"
JOB_CREATED: Final = "lingua.job.created"
JOB_ERROR_CODE: Final = "lingua.job.error_code"
SESSION_ID: Final = "lingua.session.id"
UTTERANCE_INDEX: Final = "lingua.utterance.index"
UTTERANCE_CUT: Final = "lingua.utterance.cut"
SRC_LANG: Final = "lingua.lang.src"
TGT_LANG: Final = "lingua.lang.tgt"
TENANT_ID: Final = "lingua.tenant.id"
# A trace id the client sent on the wire: kept for correlation, never used as ours.
CLIENT_TRACE_ID: Final = "lingua.client.trace_id"
NODE_ID: Final = "lingua.node.id"
NODE_EPOCH: Final = "lingua.node.epoch"
POOL_ID: Final = "lingua.pool.id"
GATEWAY_ID: Final = "lingua.gateway.id"
# Where candidates came from: the dispatcher's replica of the index, or the pool service.
SELECT_SOURCE: Final = "lingua.select.source"
SELECT_CANDIDATES: Final = "lingua.select.candidates"
RESERVE_OUTCOME: Final = "lingua.reserve.outcome"
PLACE_OUTCOME: Final = "lingua.place.outcome"
MESSAGE_TYPE: Final = "lingua.message.type"
DELIVERED: Final = "lingua.delivered"
REASON: Final = "lingua.reason"
ACCEPTED: Final = "lingua.accepted"
