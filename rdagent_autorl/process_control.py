"""Linux process controls the harness relies on to leave no process behind and to keep its memory its own:
a parent-death signal (a child dies with the process that started it), the child-subreaper flag (orphans
of a process tree are re-parented to its root, not to init, so a daemon that double-forked and called
setsid is still found), a guardian that takes a process's whole group with it when it dies (its
grandchildren too), and the non-dumpable flag (other processes of the user cannot read its memory).

They are prctl(2) calls; the standard library does not wrap prctl and no maintained package on the
registries does for these flags, hence ctypes. Elsewhere than Linux they are no-ops returning False.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_DUMPABLE = 4
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


def deny_inspection() -> bool:
    """Make this process non-dumpable: its /proc/<pid>/environ, mem, maps and fd/ then belong to root, and
    other processes of the same user can neither read them nor ptrace it. The harness (its grader thread)
    and every grading worker hold held-out items and keys in memory; an agent with no sandbox around it
    (`--sandbox none`) runs as the same user. The command line stays readable; root and the process itself
    are not affected; a child that execs is dumpable again (the agent's own processes stay inspectable)."""
    return sys.platform.startswith("linux") and _prctl(PR_SET_DUMPABLE, 0)


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants."""
    return sys.platform.startswith("linux") and _prctl(PR_SET_CHILD_SUBREAPER, 1)


def guard_process_group() -> int | None:
    """Make this process the leader of its own process group and fork a guardian that SIGKILLs the group
    the moment this process dies, however it dies (SIGKILL included); returns the guardian's pid.

    The parent-death signal reaches one generation only: a grading worker that dies with its service would
    still leave vLLM's EngineCore and multiprocessing children holding the GPU. Those stay in the worker's
    group (none calls setsid, and the worker runs only the project's own code), so killing the group at the
    worker's death takes them all. Call it early, from the main thread, before any thread starts: the
    guardian's parent-death signal fires when the forking thread ends.
    """
    if not sys.platform.startswith("linux"):
        return None
    leader = os.getpid()
    if os.getpgrp() != leader:
        os.setpgid(0, 0)
    # SIGTERM (the guardian's wake-up) is blocked across the fork so that it cannot arrive before the
    # guardian waits for it; the caller gets its own mask back.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return pid
    try:  # the guardian: hold nothing of the caller's output open, wait for its death, take the group
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        _prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() == leader:  # else the leader died before the signal was armed
            signal.sigwait({signal.SIGTERM})
        os.killpg(leader, signal.SIGKILL)
    finally:
        os._exit(0)
