"""bench"""

import os

# The harness starts child processes (fork + exec) while its gRPC channels are busy;
# nothing uses gRPC in a forked child before exec, so gRPC's fork handlers are not
# needed (they would only log that they were skipped). Read when grpc initialises.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
