"""A grading worker dies with the service that started it, even when the service is SIGKILLed
(process_control.die_with_parent, which grading/worker.main calls first)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

# The parent plays the grading service: it starts a child that calls die_with_parent() (as worker.main
# does first) and then works for a minute, prints the child's pid, and waits.
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c",
    "from rdagent_autorl.process_control import die_with_parent; die_with_parent(); "
    "print('armed', flush=True); import time; time.sleep(60)"], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "armed"
print(child.pid, flush=True)
child.wait()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_worker_does_not_outlive_a_killed_service():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"worker {child} outlived its killed parent"
