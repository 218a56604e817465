"""Starts the whole suite locally: a private redis-server, every service, optionally a fleet."""
