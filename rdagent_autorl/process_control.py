"""Linux process controls the harness relies on to leave no process behind: a parent-death signal (a
child dies with the process that started it) and the child-subreaper flag (orphans of a process tree are
re-parented to its root, not to init, so a daemon that double-forked and called setsid is still found).

Both are prctl(2) calls; the standard library does not wrap prctl and no maintained package on the
registries does for these two flags, hence ctypes. Elsewhere than Linux they are no-ops returning False.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, arg: int) -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, arg, 0, 0, 0) != 0:
        print(f"prctl({option}, {arg}) failed (errno {ctypes.get_errno()})", file=sys.stderr)
        return False
    return True


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask for `sig` when the parent goes, then exit at once if the parent is already gone: the signal only
    covers a death after the call."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    armed = _prctl(PR_SET_PDEATHSIG, int(sig))
    if os.getppid() != parent or parent == 1:  # orphaned between fork and the call
        os._exit(1)
    return armed


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants."""
    return sys.platform.startswith("linux") and _prctl(PR_SET_CHILD_SUBREAPER, 1)
