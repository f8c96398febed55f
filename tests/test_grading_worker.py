"""A grading worker dies with the service that started it, even when the service is SIGKILLed
(process_control.die_with_parent, which grading/worker.main calls first), and the processes the worker
started (vLLM's engine processes, on a GPU) die with the worker (process_control.guard_process_group)."""

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


# The real worker's main, with the evaluation replaced by one that starts an engine-like process (as vLLM
# starts its EngineCore: a spawned child in the worker's group), prints its pid, then works or ends.
WORKER_WITH_ENGINE = """
import subprocess, sys, time
import rdagent_autorl.grading.evaluate as evaluate
from rdagent_autorl.grading import worker

def evaluate_starting_an_engine(task, model_dir, config):
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(engine.pid, flush=True)
    if sys.argv[1] == "work":
        time.sleep(60)
    raise RuntimeError("the evaluation ended")

evaluate.evaluate = evaluate_starting_an_engine
evaluate.make_config = lambda *args: None
worker.main(["--task", "gsm8k-rule", "--model", "unused", "--backend", "hf"])
"""

# A service that starts that worker and waits for it.
SERVICE = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE, text=True)
print(worker.pid, flush=True)
print(worker.stdout.readline().strip(), flush=True)
worker.wait()
"""


def _wait_gone(pid: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), what


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("ending", ["service killed", "worker killed", "worker returned"])
def test_the_processes_a_worker_started_die_with_it(ending):
    mode = "end" if ending == "worker returned" else "work"
    service = subprocess.Popen([sys.executable, "-c", SERVICE, WORKER_WITH_ENGINE, mode],
                               stdout=subprocess.PIPE, text=True)
    try:
        worker, engine = int(service.stdout.readline()), int(service.stdout.readline())
        if ending == "service killed":
            assert _alive(engine)
            os.kill(service.pid, signal.SIGKILL)
        elif ending == "worker killed":
            assert _alive(engine)
            os.kill(worker, signal.SIGKILL)
        _wait_gone(worker, f"worker {worker} outlived: {ending}")
        _wait_gone(engine, f"the worker's engine process {engine} outlived: {ending}")
    finally:
        service.kill()
        service.wait()
