"""`rdagent autorl sweep SWEEP.yaml` and `leaderboard --sweep ID`: the command-line side of rdagent_autorl/sweep."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import typer

from rdagent_autorl.cli.common import fail


def _progress(sweep):
    """The live table: counts, ETA (mean duration of the finished cells x the cells left / the cells running
    at once), and every cell that started."""
    from rich.table import Table

    counts = sweep.counts()
    took = [s.ended - s.started for s in sweep.states if s.status == "done" and s.ended and s.started]
    left = counts["pending"] + counts["queued"] + counts["running"]
    eta = f"~{statistics.fmean(took) * left / max(1, counts['running']) / 60:.1f} min" if took and left else "-"
    table = Table(title=f"sweep {sweep.config.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
                  + f"; ETA {eta}")
    for col in ("cell", "status", "minutes", "run / error"):
        table.add_column(col)
    now = time.time()
    for s in sweep.states:
        if s.status in ("running", "failed", "cancelled", "done"):
            minutes = f"{((s.ended or now) - s.started) / 60:.1f}" if s.started else "-"
            table.add_row(s.cell.key, s.status, minutes, (s.error or s.run_dir or "")[-100:])
    return table


def sweep_command(path: Path, *, address: str | None, max_parallel: int | None, dry_run: bool, resume: bool) -> None:
    from rich.console import Console
    from rich.live import Live

    from rdagent_autorl.sweep.config import SweepError, load_sweep
    from rdagent_autorl.sweep.engine import MANIFEST, bench_command, cell_env, execute, prepare
    from rdagent_autorl.sweep.tables import write_summary

    console = Console()
    try:
        config, text = load_sweep(path)
        sweep = prepare(config, text, resume=resume, dry_run=dry_run)
    except SweepError as exc:
        fail(str(exc))
    if dry_run:
        import os
        import shlex

        for s in sweep.states:
            problem = ""
            try:
                cell_env(config, s.cell, dict(os.environ))
            except SweepError as exc:
                problem = f"  WILL FAIL: {exc}"
            console.print(f"{s.status:<8} {s.cell.key}{problem}\n         $ {shlex.join(bench_command(config, s.cell, []))}",
                          markup=False, highlight=False, soft_wrap=True)
        console.print(f"{len(sweep.states)} cells ({sweep.counts()['skipped']} in the ledger already); dry run: nothing "
                      "was started", markup=False, highlight=False)
        return
    import signal

    def stop(signum, frame):  # SIGTERM (a scheduler, `kill`) stops the sweep as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    reported: dict[str, str] = {}

    def on_change(s) -> None:
        live.update(_progress(s))
        for state in s.states:  # a line per cell that ended, for logs that keep no live table
            if state.status in ("done", "failed") and reported.get(state.cell.key) != state.status:
                reported[state.cell.key] = state.status
                live.console.print(f"{state.status}: {state.cell.key}  {state.error or state.run_dir or ''}",
                                   markup=False, highlight=False, soft_wrap=True)

    try:
        with Live(_progress(sweep), console=console, refresh_per_second=1) as live:
            execute(sweep, address=address, max_parallel=max_parallel, on_change=on_change)
    except SweepError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        console.print(f"stopped: {sweep.counts()['cancelled']} running cell(s) cancelled, their runs ended; "
                      f"`rdagent autorl sweep {path} --resume` runs what is not in the ledger", markup=False, highlight=False)
        raise typer.Exit(130)
    summary = write_summary(config, sweep.folder, manifest=json.loads((sweep.folder / MANIFEST).read_text()))
    console.line()  # the live table's last frame ends without one where the console is not a terminal
    console.print(summary["markdown"], markup=False, highlight=False, soft_wrap=True)
    counts = sweep.counts()
    console.print(f"sweep {config.name}: {counts['done']} done, {counts['skipped']} skipped (in the ledger), "
                  f"{counts['failed']} failed; {sweep.folder}/summary.md, summary.csv, summary.html, figures/",
                  markup=False, highlight=False, soft_wrap=True)
    if counts["failed"]:
        raise typer.Exit(1)


def sweep_leaderboard(sweep_id: str, fmt: str) -> None:
    """The sweep's tables from the ledger (written again into its folder), printed as md or csv."""
    from rdagent_autorl.sweep.config import SweepError, load_sweep
    from rdagent_autorl.sweep.engine import MANIFEST, SWEEP_FILE, sweeps_dir
    from rdagent_autorl.sweep.tables import SUMMARY, write_summary

    folder = sweeps_dir() / sweep_id
    if not (folder / SWEEP_FILE).exists():
        known = sorted(p.name for p in sweeps_dir().glob("*") if (p / SWEEP_FILE).exists()) if sweeps_dir().exists() else []
        fail(f"no sweep {sweep_id!r} under {sweeps_dir()}" + (f"; sweeps: {', '.join(known)}" if known else ""))
    try:
        config, _ = load_sweep(folder / SWEEP_FILE)
    except SweepError as exc:
        fail(str(exc))
    manifest = json.loads((folder / MANIFEST).read_text()) if (folder / MANIFEST).exists() else None
    summary = write_summary(config, folder, manifest=manifest)
    typer.echo((folder / f"{SUMMARY}.csv").read_text() if fmt == "csv" else summary["markdown"])
