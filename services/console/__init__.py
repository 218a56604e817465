"""The live console: an HTTP page and JSON/SSE API over the registry, pool and dispatcher
APIs and the metrics board, for operators (read-only, plus drain and cancel)."""
