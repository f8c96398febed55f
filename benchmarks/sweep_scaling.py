"""`rdagent autorl sweep` scaling on one machine: the same CPU-bound smoke cells run with --max-parallel 1 and
then with --max-parallel N, in one run, each as a user starts it (the CLI, a local Ray).

    python benchmarks/sweep_scaling.py [--cells 4] [--parallel 2] [--task gsm8k-rule] [--agent rdagent]

The cells are `--task` x `--agent` (the loop: one scripted SFT loop) x `--cells` seeds, `smoke: true`
(tiny model, CPU), in a fresh autorl home (a temporary AUTORL_HOME: no grade is answered from an earlier
run's cache). A warm-up cell first builds the tiny model, the smoke data and the base model's grade (not
timed); the two sweeps then use different seeds (0..cells-1, then cells..2*cells-1), so each trains and
grades its own checkpoints. Printed: wall time of each sweep (the CLI from start to exit, Ray's start
included), the mean minutes of a cell in each, and the ratio sequential / parallel. On 2 cores the
ceiling is 2x. Measured here (2 idle cores, 2026-12-07): 9.47 min vs 5.66 min = 1.67x; a cell took 2.33
min alone and 2.66 min beside another: one cell leaves the cores idle part of the time (process starts,
loading, waits between training and its grades), which a second one fills.
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


def run_sweep(name: str, args, seeds: list[int], parallel: int, folder: Path) -> tuple[float, list[float]]:
    path = folder / f"{name}.yaml"
    # The loop with the scripted driver, one loop: an SFT run and its grades, CPU-bound all along (the example
    # agent's GRPO smoke step mostly leaves the weights as they were, so its grades come from the cache).
    driver = "{name: scripted, env: {AUTORL_LOOP_N: '1', CHAT_MODEL: null, LITELLM_CHAT_MODEL: null, BACKEND: null}}"
    path.write_text(f"name: {name}\ntasks: [{args.task}]\nagents: [{args.agent}]\ndrivers: [{driver}]\n"
                    f"seeds: {seeds}\nsmoke: true\ncpus_per_run: 1\n")
    rdagent = str(Path(sys.executable).parent / "rdagent")
    start = time.perf_counter()
    done = subprocess.run([rdagent, "autorl", "sweep", str(path), "--max-parallel", str(parallel)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"sweep {name} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cells = json.loads((folder / "home" / "sweeps" / name / "manifest.json").read_text())["cells"]
    return wall, [(c["ended"] - c["started"]) / 60 for c in cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--task", default="gsm8k-rule")
    parser.add_argument("--agent", default="rdagent")
    args = parser.parse_args()
    print(f"{args.cells} cells a sweep ({args.task} x {args.agent}, smoke), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUTORL_HOME"] = str(Path(tmp) / "home")
        run_sweep("warm-up", args, [10_000], 1, Path(tmp))
        results = {}
        for i, parallel in enumerate((1, args.parallel)):
            seeds = list(range(i * args.cells, (i + 1) * args.cells))
            wall, minutes = run_sweep(f"scaling-p{parallel}", args, seeds, parallel, Path(tmp))
            results[parallel] = wall
            print(f"--max-parallel {parallel}: {wall / 60:.2f} min wall, a cell {statistics.fmean(minutes):.2f} min "
                  f"on average ({', '.join(f'{m:.2f}' for m in minutes)})")
    print(f"speed-up --max-parallel {args.parallel} vs 1: {results[1] / results[args.parallel]:.2f}x "
          f"(ceiling on this machine: {min(args.parallel, os.cpu_count() or 1)}x)")


if __name__ == "__main__":
    main()
