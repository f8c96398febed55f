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


# A process of user nobody, holding a secret in its environment, that asks (or not) not to be inspected.
_HOLDER = """
import sys, time
from rdagent_autorl.process_control import deny_inspection
if sys.argv[1] == "deny":
    assert deny_inspection()
print("ready", flush=True)
time.sleep(60)
"""
_READER = """
import sys
for name in ("environ", "mem"):
    try:
        with open(f"/proc/{sys.argv[1]}/{name}", "rb") as f:
            data = f.read(65536) if name == "environ" else b"opened"
        print(name, "READ", b"HELD-OUT-SECRET" in data)
    except OSError as exc:
        print(name, "DENIED", type(exc).__name__)
"""


@pytest.mark.parametrize("holder", ["deny", "control"])
def test_another_process_of_the_same_user_cannot_read_a_grader_process(holder):
    """deny_inspection (the harness, whose grader thread holds held-out items, and every grading worker call it):
    a process of the same non-root user, as an agent run with --sandbox none is, cannot read the grader's
    environment or memory through /proc; the control, without it, can."""
    import shutil

    if os.getuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to run both processes as another user (setpriv)")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c"]
    env = {**os.environ, "HOLDER_SECRET": "HELD-OUT-SECRET"}
    proc = subprocess.Popen([*as_nobody, _HOLDER, holder], env=env, stdout=subprocess.PIPE, text=True,
                            cwd="/")
    try:
        assert proc.stdout.readline().strip() == "ready"
        seen = subprocess.run([*as_nobody, _READER, str(proc.pid)], capture_output=True, text=True, timeout=60,
                              cwd="/").stdout
    finally:
        proc.kill()
        proc.wait()
    if holder == "deny":
        assert "environ DENIED PermissionError" in seen and "mem DENIED PermissionError" in seen, seen
    else:
        assert "environ READ True" in seen and "mem READ" in seen, seen
