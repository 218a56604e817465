"""tools.chaos: sustained load through the simulated fleet while one part of the stack at
a time fails (kill -9 and restart, Redis restarted empty, node flaps), with the
invariants checked after each fault (`make chaos`, `python -m tools.chaos --help`)."""
