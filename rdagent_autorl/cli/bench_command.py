"""`rdagent autorl bench | agents | report | leaderboard`: the command-line side of the harness."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rdagent_autorl.cli.common import fail, run_defaults


def bench_command(*, task, agent, model, timeout, gpus, port, smoke, data, limit, sandbox=None, seed=None,
                  sweep_cell=None) -> None:
    from rdagent_autorl.bench.agents import AgentError
    from rdagent_autorl.grading.final import read_final
    from rdagent_autorl.grading.run import records_dir_for
    from rdagent_autorl.grading.service import GraderStartError
    from rdagent_autorl.models.resolve import ModelError
    from rdagent_autorl.run.harness import RUNS_FOLDER, RunError, run_bench
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.tasks import TaskError, get_task

    if sweep_cell:  # a sweep's cell: the run dies with the Ray task that started it (its processes follow)
        import signal

        from rdagent_autorl.process_control import die_with_parent

        die_with_parent(signal.SIGTERM)
    try:
        d = run_defaults(get_task(task), smoke=smoke, model=model, data=data, timeout=timeout, gpus=gpus)
        result = run_bench(task, agent, model=d.model, data=d.data, timeout_s=d.timeout_s, gpus=d.gpus, limit=limit,
                           port=port, runs_dir=get_settings().home_dir / RUNS_FOLDER["bench"], smoke=smoke,
                           sandbox=sandbox, seed=seed, sweep_cell=_sweep_cell(sweep_cell))
    except (AgentError, TaskError, ModelError, RunError, GraderStartError) as exc:
        fail(str(exc))
    rec, m = result.record, result.metrics
    final = read_final(records_dir_for(Path(rec.workspace)))
    typer.echo(f"run: {result.run_dir}\nagent sandbox: {rec.sandbox}\n"
               f"baseline: {rec.baseline.score if rec.baseline else None}  "
               f"best (selection): {m['best_score']}  "
               f"submissions: {m['n_submissions']} (valid {m['n_valid']})  agent exit: {rec.agent_exit}"
               f"{'  (killed at the deadline)' if rec.killed_at_deadline else ''}\n"
               f"final: {final.summary() if final else 'none (no final grade recorded)'}\n"
               f"report: {result.run_dir / 'reports' / 'report.md'}")


def _sweep_cell(text: str | None) -> tuple[str, str] | None:
    """`--sweep-cell SWEEP_ID=CELL_KEY` (the sweep engine's tag of its runs) -> (sweep id, cell key)."""
    if not text:
        return None
    sweep_id, sep, cell = text.partition("=")
    if not (sep and sweep_id and cell):
        fail(f"--sweep-cell {text!r}: expected SWEEP_ID=CELL_KEY")
    return sweep_id, cell


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
    from rdagent_autorl.bench.run_record import RECORD
    from rdagent_autorl.run.harness import finish

    if not (run_dir / RECORD).exists():
        fail(f"{run_dir} is not a recorded run (no {RECORD})")
    result = finish(run_dir.resolve())
    typer.echo(json.dumps(result.metrics, indent=2))
    typer.echo(f"report: {run_dir / 'reports' / 'report.md'}", err=True)


def leaderboard_command(task: str | None, fmt: str) -> None:
    from rdagent_autorl.bench.ledger import format_table, leaderboard

    typer.echo(format_table(leaderboard(task), fmt))
