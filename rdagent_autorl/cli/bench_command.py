"""`rdagent autorl bench | agents | report | leaderboard`: the command-line side of the harness."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rdagent_autorl.cli.app import fail

# CPU smoke defaults, as for the loop's --smoke; AUTORL_EXAMPLE_CONFIG makes the example agent's runs short
# ({template: CONFIG overrides}).
SMOKE = {"model": "tiny", "data": "smoke"}  # budget: the task's smoke_time_s
EXAMPLE_SMOKE_CONFIG = {
    "grpo_rule": {"max_steps": 4, "max_train_samples": 16, "num_generations": 4, "per_device_train_batch_size": 8,
                  "gradient_accumulation_steps": 1, "max_completion_length": 32, "gradient_checkpointing": False,
                  "logging_steps": 1},
    "sft_trajectories": {"max_train_samples": 24, "learning_rate": 3e-3, "num_train_epochs": 2,
                         "per_device_train_batch_size": 16, "gradient_accumulation_steps": 1,
                         "gradient_checkpointing": False, "logging_steps": 5, "collect_workers": 2},
    "grpo_online": {"max_train_samples": 8, "learning_rate": 2e-4, "max_steps": 2, "num_generations": 4,
                    "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1,
                    "gradient_checkpointing": False, "logging_steps": 1},
}


def bench_command(*, task, agent, model, timeout, gpus, port, smoke, data, limit) -> None:
    from rdagent_autorl.bench.agents import AgentError
    from rdagent_autorl.bench.harness import run_bench
    from rdagent_autorl.cli.loop_command import visible_gpus
    from rdagent_autorl.grading.service import GraderStartError
    from rdagent_autorl.models.resolve import ModelError
    from rdagent_autorl.rdloop.session import SessionError, parse_duration
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.tasks import TaskError, get_task

    try:
        spec = get_task(task)
        timeout_s = parse_duration(timeout or (str(spec.budget.smoke_time_s) if smoke else str(spec.budget.time_s)))
        gpu_list = [g.strip() for g in gpus.split(",") if g.strip()] if gpus is not None else ([] if smoke else visible_gpus())
        result = run_bench(
            task, agent, model=model or (SMOKE["model"] if smoke else spec.default_model),
            data=data or (SMOKE["data"] if smoke else "auto"), timeout_s=timeout_s, gpus=gpu_list, limit=limit, port=port,
            runs_dir=get_settings().home_dir / "bench",
            extra_env={"AUTORL_SMOKE": "1", "AUTORL_EXAMPLE_CONFIG": json.dumps(EXAMPLE_SMOKE_CONFIG)} if smoke else None)
    except (AgentError, TaskError, ModelError, SessionError, GraderStartError) as exc:
        fail(str(exc))
    m = result["metrics"]
    typer.echo(f"run: {result['run_dir']}\nbaseline: {result['baseline']['score']}  best: {m['best_score']}  "
               f"submissions: {m['n_submissions']} (valid {m['n_valid']})  agent exit: {result['agent_exit']}"
               f"{'  (killed at the deadline)' if result['killed_at_deadline'] else ''}\n"
               f"report: {Path(result['run_dir']) / 'reports' / 'report.md'}")


def agents_command(as_json: bool) -> None:
    from rdagent_autorl.bench.agents import all_agents

    rows = [{"name": a.name, "ready": not a.missing(), "missing": "; ".join(a.missing()) or "-",
             "description": a.description} for a in all_agents()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['name']:<12} {'ready' if r['ready'] else 'NOT READY':<9}  {r['description']}")
        if not r["ready"]:
            typer.echo(f"{'':<12} missing: {r['missing']}")


def report_command(run_dir: Path) -> None:
    from rdagent_autorl.bench.harness import RECORD, finish

    if not (run_dir / RECORD).exists():
        fail(f"{run_dir} is not a recorded run (no {RECORD})")
    result = finish(run_dir.resolve())
    typer.echo(json.dumps(result["metrics"], indent=2))
    typer.echo(f"report: {run_dir / 'reports' / 'report.md'}", err=True)


def leaderboard_command(task: str | None, fmt: str) -> None:
    from rdagent_autorl.bench.ledger import format_table, leaderboard

    if fmt not in ("md", "csv"):
        fail(f"unknown format {fmt!r}: md or csv")
    typer.echo(format_table(leaderboard(task), fmt))
