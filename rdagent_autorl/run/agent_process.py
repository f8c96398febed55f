"""A benchmark agent's process tree, kept whole and ended whole (run/harness.SubprocessAgent).

The harness does not start the agent's command itself but this module's reaper, which starts it:

    python -m rdagent_autorl.run.agent_process -- bash start.sh

The reaper is a child subreaper (process_control.become_subreaper): every process the agent starts stays
its descendant, even one that double-forked, called setsid and dropped its environment (`setsid env -i
...`), because the kernel re-parents such orphans to the nearest subreaper. When the agent's command
exits, when the harness sends SIGTERM, or when the harness dies (parent-death signal), the reaper ends
all its descendants (SIGTERM, a grace period, SIGKILL) and exits with the command's code. An agent can
only leave this tree through a sandbox's help, and the sandbox (bwrap/docker) tears down its own.
`stray_processes` stays as a last look for processes that carry the workspace in their environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TERM_GRACE_S = 5.0
# -I (isolated): the reaper starts in the agent's workspace with the agent's environment, and must not
# import a psutil.py or rdagent_autorl/ the agent puts there, nor honour its PYTHONPATH.
REAPER = [sys.executable, "-I", "-m", "rdagent_autorl.run.agent_process", "--"]


def reaper_command(cmd: list[str]) -> list[str]:
    """The command line that runs `cmd` under the reaper."""
    return [*REAPER, *cmd]


def _end_descendants(grace_s: float) -> None:
    """SIGTERM to every descendant, SIGKILL to what is left after `grace_s`, until none is left (a process
    forking while it is killed shows up in the next round)."""
    import psutil

    me = psutil.Process()
    sig, deadline = signal.SIGTERM, time.monotonic() + grace_s
    for _ in range(100):
        procs = me.children(recursive=True)
        if not procs:
            return
        for p in procs:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        gone, alive = psutil.wait_procs(procs, timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        if alive and time.monotonic() >= deadline:
            sig = signal.SIGKILL
    # Whatever survived 100 rounds (a fork bomb outrunning us) gets one last SIGKILL sweep.
    for p in me.children(recursive=True):
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def reap(cmd: list[str], grace_s: float = TERM_GRACE_S) -> int:
    """Run `cmd` as this process's child and, once it ends (or SIGTERM/SIGINT arrives), end every process
    it left behind. Returns the command's exit code (128 + signal when the reaper was told to stop)."""
    import psutil  # noqa: F401  # now, before the agent writes anything: _end_descendants needs it at the end

    from rdagent_autorl.process_control import become_subreaper, die_with_parent

    become_subreaper()
    die_with_parent(signal.SIGTERM)  # the harness died: clean up as for a stop
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopped.append(signum))
    child = subprocess.Popen(cmd)
    code = None
    while code is None and not stopped:
        try:
            code = child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
    _end_descendants(grace_s)
    if code is None:
        code = child.wait()  # ended with the descendants above
        return 128 + stopped[0] if stopped else code
    return code


def stray_processes(workspace: Path) -> list:
    """Processes still carrying this workspace in their environment (a last look, after the reaper)."""
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
    """SIGTERM to the reaper's process group (the reaper then ends every descendant); SIGKILL to the group if
    the reaper has not finished after its own grace period; then any stray."""
    import psutil

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=2 * TERM_GRACE_S + 5)
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


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m rdagent_autorl.run.agent_process -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return reap(args)


if __name__ == "__main__":
    sys.exit(main())
