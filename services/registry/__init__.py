"""Registry service: node records, status machine, heartbeats, offline sweep, epochs."""
