"""The `rdagent autorl` command line.

Only light modules are imported at the top: `--help` and `tasks` must answer in well under 3 s
(see benchmarks/cli_startup.py). Each command imports what it needs when it runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from rdagent_autorl.cli.common import fail, load_model, load_task

app = typer.Typer(
    name="autorl",
    help="Agent² RL-Bench on RD-Agent: can an LLM agent post-train a small model with RL?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts say [default: ...]; rich markup would eat the brackets
)
model_app = typer.Typer(help="Build and inspect base models.", no_args_is_help=True)
app.add_typer(model_app, name="model")

TaskOpt = typer.Option(..., "--task", "-t", help="Task id (see `tasks`) or a folder with task.yaml.")
BackendOpt = typer.Option(None, "--backend", "-b", help="Generation backend: hf, vllm or openai [default: AUTORL_BACKEND].")
DataOpt = typer.Option("auto", "--data", help="Data source of the task (e.g. synthetic for gsm8k offline).")
LimitOpt = typer.Option(None, "--limit", "-n", min=1, help="Grade only the first N held-out items.")


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Run the RD-Agent loop on this task (id or task folder)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Base model [default: the task's; 'tiny' with --smoke]."),
    loop_n: Optional[int] = typer.Option(None, "--loop-n", min=1,
        help="Loops to run [default: until the budget is used; with --smoke the task's smoke loops, 2]."),
    timeout: Optional[str] = typer.Option(None, "--timeout",
        help="Run budget, e.g. 2h, 30m, 600 [default: the task's; with --smoke the task's smoke budget]."),
    smoke: bool = typer.Option(False, "--smoke",
        help="Embedded small default: tiny model, offline synthetic data, CPU, short budget."),
    resume: Optional[Path] = typer.Option(None, "--resume",
        help="Continue a stopped run (its folder) from its last finished step."),
    data: Optional[str] = typer.Option(None, "--data", help="Data source [default: auto; with --smoke the task's smoke data]."),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="Comma-separated GPU ids [default: all visible; none with --smoke]."),
    limit: Optional[int] = LimitOpt,
    port: int = typer.Option(0, "--port", help="Port of the run's grading service [default: a free one]."),
) -> None:
    """Without a command: run RD-Agent's R&D loop (proposal -> coder -> runner -> feedback) on a task."""
    if ctx.invoked_subcommand is not None:
        return
    if task is None and resume is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    from rdagent_autorl.cli.loop_command import run_loop_command

    run_loop_command(task=task, model=model, loop_n=loop_n, timeout=timeout, smoke=smoke, resume=resume, data=data,
                     gpus=gpus, limit=limit, port=port)


@app.command()
def ui(
    run: Optional[Path] = typer.Argument(None, help="A run folder [default: all runs under AUTORL_HOME/runs]."),
    port: int = typer.Option(8501, "--port", help="Port of the Streamlit server."),
    bench_view: bool = typer.Option(False, "--bench", help="The benchmark dashboard: runs, leaderboard, reports."),
) -> None:
    """Open RD-Agent's RL trace viewer on a run's trace (or on all runs); --bench: the benchmark dashboard."""
    from rdagent_autorl.cli.loop_command import run_ui

    run_ui(run, port, bench=bench_view)


@app.command()
def bench(
    task: str = TaskOpt,
    agent: str = typer.Option(..., "--agent", "-a", help="Agent name (see `agents`) or a folder with agent.yaml."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Base model [default: the task's; 'tiny' with --smoke]."),
    timeout: Optional[str] = typer.Option(None, "--timeout",
        help="Agent budget, e.g. 2h, 600 [default: the task's; with --smoke the task's smoke budget]."),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="Comma-separated GPU ids [default: all visible; none with --smoke]."),
    port: int = typer.Option(0, "--port", help="Port of the grading service [default: a free one]."),
    smoke: bool = typer.Option(False, "--smoke", help="Tiny model, offline smoke data, CPU, short budget and runs."),
    data: Optional[str] = typer.Option(None, "--data", help="Data source [default: auto; with --smoke the task's smoke data]."),
    limit: Optional[int] = LimitOpt,
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="What confines the agent: bwrap, docker or none "
                                          "[default: AUTORL_AGENT_SANDBOX, auto = bwrap where it starts, else none "
                                          "with a warning]."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of everything random in the run: the agent gets "
                                       "it as AUTORL_SEED (the templates' training seed); recorded in the ledger."),
    sweep_cell: Optional[str] = typer.Option(None, "--sweep-cell", hidden=True,
                                             help="SWEEP_ID=CELL_KEY: the sweep engine tags its runs."),
) -> None:
    """Run an agent on a task in an isolated workspace with the grader; record, report, add to the ledger."""
    from rdagent_autorl.cli.bench_command import bench_command

    bench_command(task=task, agent=agent, model=model, timeout=timeout, gpus=gpus, port=port, smoke=smoke, data=data,
                  limit=limit, sandbox=sandbox, seed=seed, sweep_cell=sweep_cell)


@app.command()
def agents(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the declared agents and whether each is ready on this machine."""
    from rdagent_autorl.cli.bench_command import agents_command

    agents_command(as_json)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A recorded run folder (from `bench`).")) -> None:
    """(Re)write a run's report (metrics.json, report.md/html, figures) and its ledger row."""
    from rdagent_autorl.cli.bench_command import report_command

    report_command(run_dir)


@app.command()
def leaderboard(
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Only this task."),
    fmt: str = typer.Option("md", "--format", help="md or csv."),
    sweep_id: Optional[str] = typer.Option(None, "--sweep", help="A sweep's tables (per task x agent x driver x "
                                           "model over seeds, the cross-task score), written into its folder too."),
) -> None:
    """Task x agent/driver table over the ledger's finished runs (mean ± spread); --sweep: a sweep's tables."""
    if fmt not in ("md", "csv"):
        fail(f"unknown format {fmt!r}: md or csv")
    if sweep_id:
        from rdagent_autorl.cli.sweep_command import sweep_leaderboard

        return sweep_leaderboard(sweep_id, fmt)
    from rdagent_autorl.cli.bench_command import leaderboard_command

    leaderboard_command(task, fmt)


@app.command()
def sweep(
    sweep_file: Path = typer.Argument(..., help="The sweep's YAML: tasks, agents, drivers, models, seeds, budget "
                                      "(README: Sweeps)."),
    address: Optional[str] = typer.Option(None, "--address", help="A Ray cluster (ray://host:10001, or auto) "
                                          "[default: a local Ray on this machine]."),
    max_parallel: Optional[int] = typer.Option(None, "--max-parallel", min=1,
                                               help="Cells running at once [default: as many as Ray's resources allow]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the cells and their bench commands; start nothing."),
    resume: bool = typer.Option(False, "--resume", help="Continue the sweep: cells already in the ledger are skipped."),
) -> None:
    """Run a grid of bench runs (tasks x agents x drivers x base models x seeds) as Ray tasks; write the tables."""
    from rdagent_autorl.cli.sweep_command import sweep_command

    sweep_command(sweep_file, address=address, max_parallel=max_parallel, dry_run=dry_run, resume=resume)


@app.command()
def tasks(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the benchmark's tasks: id, level, title, data available here, default base model."""
    from rdagent_autorl.tasks import LEVELS, all_tasks

    rows = [{"id": t.id, "level": t.level, "kind": LEVELS[t.level], "title": t.title, "data": t.data_status(),
             "default_model": t.default_model or "-"} for t in all_tasks()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in ("id", "level", "data", "default_model", "title")}
    typer.echo("  ".join(k.upper().ljust(w) for k, w in widths.items()))
    for r in rows:
        typer.echo("  ".join(str(r[k]).ljust(w) for k, w in widths.items()))


@app.command()
def grade(
    task: str = TaskOpt,
    model: str = typer.Option(..., "--model", "-m", help="Checkpoint folder, HF hub id, .gguf file, or 'tiny'."),
    limit: Optional[int] = LimitOpt,
    backend: Optional[str] = BackendOpt,
    data: str = DataOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the per-sample JSONL [default: the cache]."),
    device: Optional[str] = typer.Option(None, "--device", help="hf backend device, e.g. cpu or cuda:0."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Re-evaluate even if this model was graded before."),
    part: str = typer.Option("selection", "--part", help="Held-out part: selection (what runs' submissions are "
                             "scored on), final (graded once at a run's end) or all."),
) -> None:
    """Score a checkpoint on the task's held-out data; prints one JSON object."""
    from rdagent_autorl.generation import BACKENDS
    from rdagent_autorl.generation.judge import JudgeError, JudgeNotConfigured
    from rdagent_autorl.grading.evaluate import check_judge, evaluate, make_config
    from rdagent_autorl.tasks import TaskError

    if backend is not None and backend not in BACKENDS:
        fail(f"unknown backend '{backend}'; choose from: {', '.join(BACKENDS)}")
    spec = load_task(task)
    model_dir = load_model(model) if backend != "openai" else Path(model)
    try:
        config = make_config(spec, backend, data, limit, part)
        check_judge(spec)  # before any generation: a bad judge configuration fails in seconds
        result = evaluate(spec, model_dir, config, out_dir=out, device=device, use_cache=not no_cache)
    except TaskError as exc:  # a data source that is unusable here
        fail(str(exc))
    except (JudgeError, JudgeNotConfigured) as exc:
        fail(f"the judge of {spec.id} is not usable: {exc}")
    except Exception as exc:  # a checkpoint that does not load or generate, an unreachable endpoint, ...
        fail(f"evaluating {model} failed: {type(exc).__name__}: {exc}", code=1)
    typer.echo(result.model_dump_json())


@app.command()
def serve(
    task: str = TaskOpt,
    workspace: Path = typer.Option(..., "--workspace", "-w",
        help="Run folder (created if missing); checkpoints go in its output/."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Base model [default: the task's]."),
    timeout: int = typer.Option(0, "--timeout", help="Run budget in seconds [default: the task's]."),
    limit: Optional[int] = LimitOpt,
    backend: Optional[str] = BackendOpt,
    data: str = DataOpt,
    gpus: str = typer.Option("", "--gpus", help="Comma-separated GPU ids; evaluations run one at a time per GPU."),
    host: Optional[str] = typer.Option(None, "--host", help="[default: AUTORL_GRADER_HOST]"),
    port: Optional[int] = typer.Option(None, "--port", help="[default: AUTORL_GRADER_PORT]"),
) -> None:
    """Start the grading service (FastAPI) for a run workspace."""
    import uvicorn

    from rdagent_autorl.grading.run import GradingRun
    from rdagent_autorl.grading.service import create_app
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.tasks import TaskError

    spec = load_task(task)
    s = get_settings()
    base = load_model(model or spec.default_model)
    try:
        run = GradingRun.open(
            workspace, task=task, base_model=str(base), data_source=spec.resolve_source(data), backend=backend or s.backend,
            limit=limit, gpus=[g.strip() for g in gpus.split(",") if g.strip()], timeout_s=timeout or spec.budget.time_s,
        )
    except TaskError as exc:
        fail(str(exc))
    typer.echo(f"grading {run.task.id} for {run.workspace} on http://{host or s.grader_host}:{port or s.grader_port}", err=True)
    uvicorn.run(create_app(run), host=host or s.grader_host, port=port or s.grader_port, log_level="warning")


@model_app.command("tiny")
def model_tiny(seed: int = typer.Option(0, "--seed", help="Same seed, byte-identical weights.")) -> None:
    """Build (once, then cached under AUTORL_HOME) the tiny Qwen2 model used for smoke runs and tests."""
    from rdagent_autorl.models.tiny import tiny_model_path

    typer.echo(str(tiny_model_path(seed)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
