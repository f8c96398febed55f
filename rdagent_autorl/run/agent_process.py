"""Stopping a benchmark agent's subprocess (run/harness.SubprocessAgent): its whole process group,
then any stray that escaped it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

TERM_GRACE_S = 5.0


def stray_processes(workspace: Path) -> list:
    """Processes still carrying this workspace in their environment: what a kill of the agent's
    process group missed (a child that started its own session)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get("WORKSPACE") == str(workspace):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_agent(proc: subprocess.Popen, workspace: Path) -> None:
    """SIGTERM to the agent's process group, SIGKILL after a grace period, then any stray."""
    import psutil

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(proc.pid, signal.SIGKILL)  # the group can outlive its leader
    except ProcessLookupError:  # nothing left in the group
        pass
    proc.wait()
    strays = stray_processes(workspace)
    for p in strays:
        p.kill()
    psutil.wait_procs(strays, timeout=TERM_GRACE_S)
