"""Startup time of `rdagent autorl --help` / `tasks` versus rdagent's own CLI, measured in one run.

    python benchmarks/cli_startup.py [--repeat 5]

Target: `rdagent autorl --help` and `rdagent autorl tasks` under 3 s (rdagent's CLI imports in 8-15 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "rdagent autorl --help": [str(BIN / "rdagent"), "autorl", "--help"],
    "rdagent autorl tasks": [str(BIN / "rdagent"), "autorl", "tasks"],
    "rdagent --help (rdagent's own CLI)": [str(BIN / "rdagent"), "--help"],
}
TARGET_S = 3.0


def wall(cmd: list[str]) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    medians = {}
    for name, cmd in COMMANDS.items():
        wall(cmd)  # warm the OS file cache once, as a user's second call would be
        medians[name] = statistics.median(wall(cmd) for _ in range(args.repeat))
    reference = medians["rdagent --help (rdagent's own CLI)"]
    for name, seconds in medians.items():
        verdict = "" if "own CLI" in name else ("  OK" if seconds <= TARGET_S else f"  OVER the {TARGET_S:.0f} s target")
        print(f"{name:40s} median {seconds:6.2f} s   ({reference / seconds:5.1f}x faster than rdagent --help){verdict}")


if __name__ == "__main__":
    main()
