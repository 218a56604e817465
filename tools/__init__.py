"""Developer tools: the local launcher and the simulated fleet."""
