"""Evidence for alfworld-online: does SFT warm-up (then online GRPO) make the tiny model solve games?

    python benchmarks/alfworld_sft_grpo.py [--model tiny] [--data smoke] [--limit N] [--no-grpo]
                                           [--sft-config JSON] [--grpo-config JSON]

On the CPU, offline: a workspace is laid out exactly as for an agent (`data/train.jsonl`, the
training games, the env interface), the templates run as they are (`templates/sft_trajectories.py`,
then `templates/grpo_online.py` from the SFT checkpoint, with the config overrides below), and the
grader's own `evaluate` plays the held-out games (disjoint from the training games) with each
checkpoint: the base model, after SFT, after GRPO. Printed: success rate with its 95% interval and
per task type for each, and the wall time of each phase.

Measured 2026-11-23 (2-core CPU, smoke data: 120 training games, 30 held-out), the issue's expected
"clearly above near zero within ~15 CPU minutes" is NOT reached:
- tiny v1 (math/code tokenizer), one row per decision, 8 epochs at 3e-3: base 0.0 -> SFT 3.3
  (95% CI 0.0-10.0), 2,454 s of training on a shared CPU;
- tiny v2 (household words in the tokenizer), one row per episode, 15 epochs at 3e-3: 0.0 -> 0.0
  (1,394 s, CPU shared); the config below (5 epochs, each episode also 3x with entity names
  swapped): 0.0 -> 0.0 (1,194 s, CPU shared).
The SFT'd model writes well-formed actions in the right order (go to, open, take, heat, move) and
sometimes copies the right entity ("take plate 1 from sinkbasin 1"), but mostly names objects seen in
training instead of the ones in front of it, and loops on inadmissible actions: the 718k-parameter
2-layer model does not learn to copy from a 500-1,000-token context in this budget.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

# Sized for the 718k-parameter tiny model on 2 CPU cores.
SFT_CONFIG = {"learning_rate": 3e-3, "num_train_epochs": 5, "renamed_copies": 3, "per_device_train_batch_size": 4,
              "gradient_accumulation_steps": 1, "gradient_checkpointing": False, "logging_steps": 60,
              "collect_workers": 2}
GRPO_CONFIG = {"learning_rate": 2e-4, "max_steps": 10, "num_generations": 4, "per_device_train_batch_size": 16,
               "gradient_accumulation_steps": 1, "temperature": 1.0, "gradient_checkpointing": False,
               "logging_steps": 1}
SHORT = {"pick_and_place_simple": "place", "look_at_obj_in_light": "look", "pick_clean_then_place_in_recep": "clean",
         "pick_heat_then_place_in_recep": "heat", "pick_cool_then_place_in_recep": "cool",
         "pick_two_obj_and_place": "two"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--data", default="smoke", help="data source of alfworld-online (smoke, generated, official)")
    parser.add_argument("--limit", type=int, default=None, help="held-out games to play (default: all)")
    parser.add_argument("--no-grpo", action="store_true")
    parser.add_argument("--sft-config", default="{}", help="JSON overrides on top of the benchmark's SFT config")
    parser.add_argument("--grpo-config", default="{}", help="JSON overrides on top of the benchmark's GRPO config")
    parser.add_argument("--out", type=Path, default=None, help="folder for the workspace (default: a temp folder)")
    args = parser.parse_args()  # before any game loads: the planner overwrites sys.argv
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from rdagent_autorl.grading.evaluate import evaluate, make_config
    from rdagent_autorl.models.resolve import resolve_model
    from rdagent_autorl.run.training import run_training
    from rdagent_autorl.run.workspace import agent_env, create_workspace
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.tasks import get_task

    task = get_task("alfworld-online")
    base = resolve_model(args.model)
    root = args.out or Path(tempfile.mkdtemp(prefix="alfworld-evidence-"))
    t0 = time.perf_counter()
    run = create_workspace(root / "workspace", task, task.id, base, data_source=args.data)
    ws = run.workspace
    n_train = sum(1 for _ in (ws / "data" / "train.jsonl").open())
    print(f"workspace {ws}: {n_train} training games ({time.perf_counter() - t0:.0f} s to build)", flush=True)
    config = make_config(task, backend="hf", data_source=args.data, limit=args.limit)
    rows = []

    def grade(name: str, model: Path, seconds: float) -> None:
        t = time.perf_counter()
        result = evaluate(task, model, config, device="cpu", use_cache=False)
        per_type = "  ".join(f"{SHORT.get(k, k)} {v['score']:.0f}" for k, v in result.breakdown.items())
        rows.append((name, result, seconds, time.perf_counter() - t))
        print(f"{name:<10} success {result.score:5.1f} (95% CI {result.ci_low:.1f}-{result.ci_high:.1f}, "
              f"n={result.n})  train {seconds:6.0f} s  grade {time.perf_counter() - t:5.0f} s  | {per_type}", flush=True)

    def train(template: str, start: Path, overrides: dict) -> tuple[Path, float]:
        env = {**agent_env(ws, task.id, ""), "BASE_MODEL": str(start)}
        outcome = run_training(get_settings().templates_dir / f"{template}.py", env, log_path=ws / f"{template}.log",
                               timeout_s=3600, config_overrides=overrides)
        if not outcome.ok:
            raise SystemExit(f"{template} failed ({outcome.failure}); log: {ws / f'{template}.log'}")
        return Path(outcome.checkpoint), outcome.seconds

    grade("base", base, 0.0)
    sft, sft_s = train("sft_trajectories", base, {**SFT_CONFIG, **json.loads(args.sft_config), "version": "sft"})
    grade("SFT", sft, sft_s)
    if not args.no_grpo:
        grpo, grpo_s = train("grpo_online", sft, {**GRPO_CONFIG, **json.loads(args.grpo_config), "version": "grpo"})
        grade("SFT+GRPO", grpo, grpo_s)
    total = time.perf_counter() - t0
    print(f"total {total:.0f} s ({total / 60:.1f} min) on {os.cpu_count()} CPUs; data {args.data}; "
          f"SFT config {json.dumps({**SFT_CONFIG, **json.loads(args.sft_config)})}")


if __name__ == "__main__":
    main()
