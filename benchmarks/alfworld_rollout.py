"""ALFWorld rollout speed: the grader's batched play versus one game and one generate call at a time.

    python benchmarks/alfworld_rollout.py [--model PATH|tiny] [--random-init 135m] [--n 16]
                                          [--level smoke|standard] [--max-steps 50] [--batch-size 16]

Both modes run in the same process on the same generated held-out-style games, the same model and
the same greedy policy (`rdagent_autorl.envs.alfworld_env.play` with the `hf` backend on CPU):
- batched: every game in flight is asked in one `generate` call per round (the grader's path);
- sequential: `batch_size=1`, one game at a time, one prompt per `generate` call.
Printed: wall time, environment steps/s of each, their ratio, and how many episodes took the same
actions in both modes (greedy decoding; batching may change float rounding, rarely the action).

Measured 2026-11-23 on the 2-core CPU (16 smoke games): tiny model, 50 steps: 0.90x (batched 29.0 vs
sequential 32.1 steps/s: its replies are one token, so the time is prompt prefill, which batching does
not reduce); random-init 135M Qwen2, 4 steps: 1.85x (0.78 vs 0.42 steps/s). The issue's target (3x) is
NOT reached yet: every game's system message holds its goal, so the batch shares no prompt prefix for
the hf backend's prefix cache, and prompts are ~1.3k tokens of history with admissible-action lists.

Without --model the tiny model is used: it never finishes a game, so every episode runs to
--max-steps and each reply runs to the 32-token action limit (the slowest case per step).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="checkpoint folder or 'tiny'")
    parser.add_argument("--random-init", choices=("135m", "500m"), help="a randomly initialised Qwen2 of this size")
    parser.add_argument("--n", type=int, default=16, help="games")
    parser.add_argument("--level", default="smoke", choices=("smoke", "standard"))
    parser.add_argument("--max-steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=16, help="games in flight in batched mode")
    args = parser.parse_args()  # before any game loads: the planner overwrites sys.argv
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from rdagent_autorl.envs.alfworld_env import ACTION_MAX_TOKENS, ACTION_STOP, play
    from rdagent_autorl.envs.alfworld_gen import generate_games
    from rdagent_autorl.generation.hf import HFBackend
    from rdagent_autorl.models.resolve import resolve_model

    if args.random_init:
        sys.path.insert(0, str(Path(__file__).parent))
        from grading_throughput import random_init_model

        model_dir = random_init_model(args.random_init, Path(tempfile.mkdtemp()) / f"random-{args.random_init}")
    else:
        model_dir = resolve_model(args.model)
    games = generate_games(Path(tempfile.mkdtemp()) / "games", args.n, seed=12345, level=args.level)
    files = [g.game_file for g in games]

    def run(batch_size: int):
        backend = HFBackend(model_dir, device="cpu", batch_size=batch_size)
        policy = lambda prompts: backend.generate(prompts, ACTION_MAX_TOKENS, ACTION_STOP)  # noqa: E731
        play(files[:1], policy, max_steps=2, batch_size=1)  # warm-up: first-call allocations
        t0 = time.perf_counter()
        episodes = play(files, policy, max_steps=args.max_steps, batch_size=batch_size)
        return episodes, time.perf_counter() - t0

    batched, sec_b = run(args.batch_size)
    sequential, sec_s = run(1)
    steps_b, steps_s = sum(e.steps for e in batched), sum(e.steps for e in sequential)
    same = sum([t.action for t in a.turns] == [t.action for t in b.turns] for a, b in zip(batched, sequential))
    print(f"model {model_dir}, {len(files)} {args.level} games, max {args.max_steps} steps, "
          f"{os.cpu_count()} CPUs")
    print(f"sequential (1 game, 1 call at a time): {steps_s:5d} steps in {sec_s:7.2f} s = {steps_s / sec_s:7.2f} steps/s, "
          f"won {sum(e.won for e in sequential)}")
    print(f"batched ({args.batch_size} games per call):          {steps_b:5d} steps in {sec_b:7.2f} s = "
          f"{steps_b / sec_b:7.2f} steps/s, won {sum(e.won for e in batched)}")
    print(f"speed-up batched / sequential (steps/s): {(steps_b / sec_b) / (steps_s / sec_s):.2f}x   "
          f"episodes with identical actions: {same}/{len(files)}")


if __name__ == "__main__":
    main()
