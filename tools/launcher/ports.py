"""Free loopback ports, checked by binding the way the services bind (never assumed).

Every service listens with SO_REUSEADDR (asyncio's servers and gRPC set it), so a port
whose old connections linger in TIME_WAIT after a stop is free for them at once. A check
that binds without it would call the port taken for a minute after every stop.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a service could listen on `port` now: nothing else listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            # Listening is what conflicts (two bound, unlistened sockets may share a
            # port under SO_REUSEADDR): ask for it too, as the service will.
            sock.listen(1)
        except OSError:
            return False
        return True
