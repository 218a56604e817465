"""Children that cannot outlive the launcher, however it ends (even SIGKILL).

`python tools/launcher/tether.py PID -- ARGV...` asks Linux to SIGKILL this process when
its parent dies (PR_SET_PDEATHSIG, kept across exec), checks that the parent is still
PID (it may have died before the request took effect), then execs ARGV in its place: the
child keeps its pid and gets nothing else from the shim. A graceful stop is still the
launcher's job (SIGTERM, in order); this is the guarantee for when the launcher cannot.

The death signal follows the *thread* that started the child, so only children started
from the main thread are tethered; elsewhere (and off Linux) the command runs as given.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1
EXIT_ORPHANED = 70


def can_tether() -> bool:
    return sys.platform == "linux" and threading.current_thread() is threading.main_thread()


def tethered(argv: list[str]) -> list[str]:
    """`argv` run so that it dies with this process (when this platform and thread can)."""
    if not can_tether():
        return argv
    # By path, isolated and without site: stdlib only, so it starts in ~10 ms from any
    # working directory.
    return [sys.executable, "-I", "-S", __file__, str(os.getpid()), "--", *argv]


def main(args: list[str]) -> None:
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: python tools/launcher/tether.py PARENT_PID -- ARGV...")
    parent = int(args[0])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        sys.exit(f"tether: prctl failed: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != parent:
        # The launcher died before the request took effect: nobody wants this child.
        sys.exit(EXIT_ORPHANED)
    os.execvp(args[2], args[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
