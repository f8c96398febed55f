"""`rdagent autorl sweep` scaling on one machine: the same CPU-bound smoke cells run with --max-parallel 1 and
then with --max-parallel N, in one run, each as a user starts it (the CLI, a local Ray).

    python benchmarks/sweep_scaling.py [--cells 4] [--parallel 2] [--task gsm8k-rule] [--agent example]

The cells are `--task` x `--agent` x seeds 0..cells-1, `smoke: true` (tiny model, CPU). Each sweep gets a
fresh name in the autorl home (AUTORL_HOME), so nothing is skipped. Printed: wall time of each sweep (the
CLI from start to exit, Ray's start included), the mean minutes of a cell in each, and the ratio
sequential / parallel. On 2 cores the ceiling is 2x, and less is expected: every cell's training and
grading already use both cores through torch's threads, so two cells at once mostly share them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def run_sweep(name: str, args, parallel: int, folder: Path) -> tuple[float, list[float]]:
    from rdagent_autorl.sweep.engine import MANIFEST, sweeps_dir

    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\ntasks: [{args.task}]\nagents: [{args.agent}]\nseeds: {list(range(args.cells))}\n"
                    f"smoke: true\ncpus_per_run: 1\n")
    rdagent = str(Path(sys.executable).parent / "rdagent")
    start = time.perf_counter()
    done = subprocess.run([rdagent, "autorl", "sweep", str(path), "--max-parallel", str(parallel)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"sweep {name} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cells = json.loads((sweeps_dir() / name / MANIFEST).read_text())["cells"]
    return wall, [(c["ended"] - c["started"]) / 60 for c in cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--task", default="gsm8k-rule")
    parser.add_argument("--agent", default="example")
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    print(f"{args.cells} cells ({args.task} x {args.agent} x seeds 0..{args.cells - 1}, smoke), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for parallel in (1, args.parallel):
            wall, minutes = run_sweep(f"scaling-{stamp}-p{parallel}", args, parallel, Path(tmp))
            results[parallel] = wall
            print(f"--max-parallel {parallel}: {wall / 60:.2f} min wall, a cell {statistics.fmean(minutes):.2f} min "
                  f"on average ({', '.join(f'{m:.2f}' for m in minutes)})")
    print(f"speed-up --max-parallel {args.parallel} vs 1: {results[1] / results[args.parallel]:.2f}x "
          f"(ceiling on this machine: {min(args.parallel, os.cpu_count() or 1)}x)")


if __name__ == "__main__":
    main()
