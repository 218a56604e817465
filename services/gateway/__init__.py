"""WebSocket gateway: /ws/node and /ws/session (PROTOCOL.md), cutting, ordering, routing."""
