"""The `lingua` command: the scheduler's nodes, pools and jobs from a terminal."""
