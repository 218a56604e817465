"""The PROTOCOL.md JSON wire format: checking what comes in, building what goes out."""
