"""Prometheus metrics: one registry per service app, served as text on GET /metrics."""
