"""Identifier helpers."""

from __future__ import annotations

import hashlib
import os
import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def job_id_for(request_id: str) -> str:
    """Deterministic: the same request id always names the same job (and hash slot)."""
    return "j-" + hashlib.blake2b(request_id.encode(), digest_size=12).hexdigest()


def new_trace_id() -> str:
    """A W3C trace id (32 lowercase hex digits, never all zero)."""
    while True:
        trace_id = os.urandom(16).hex()
        if trace_id != "0" * 32:
            return trace_id
