"""Dispatcher service: jobs, node selection, slot reservation, dispatch, results."""
