"""Tracing shared by every service: settings, setup, span names, context propagation."""
