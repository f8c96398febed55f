"""The cells of a sweep as Ray tasks.

Each cell is one `rdagent autorl bench` run started by a Ray task with the cell's resource request
(`num_cpus` = cpus_per_run, `num_gpus` = gpus_per_run; Ray sets CUDA_VISIBLE_DEVICES to the GPUs it
grants). The run is a subprocess that dies with the Ray task (a parent-death signal), and its own
processes die with it, so a cancelled or killed cell ends its whole run tree; a run writes its ledger row
only when it finished, so a stopped sweep leaves no half row. Ray is the engine (local by default,
`ray.init()`; a cluster with `--address`, whose nodes share AUTORL_HOME on one filesystem at the same path:
the runs, the ledger and the sweep's folder); this module only decides what to submit and records what
came back.

    $AUTORL_HOME/sweeps/<name>/
      sweep.yaml       the sweep file as given (settings; keys only by name)
      manifest.json    every cell: its key, status (pending/queued/running/done/failed/skipped/cancelled), run
                       folder, error, times, log
      cells/<cell>.log each cell's bench output
      summary.md|csv|html, figures/   the tables and figures (tables.py), written at the end
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rdagent_autorl.records import write_json_atomic
from rdagent_autorl.sweep.config import NO_DRIVER, Cell, SweepConfig, SweepError, driver_of, expand

MANIFEST, SWEEP_FILE = "manifest.json", "sweep.yaml"
ERROR_TAIL_CHARS = 2000


def sweeps_dir() -> Path:
    from rdagent_autorl.settings import get_settings

    return get_settings().sweeps_dir


def bench_command(config: SweepConfig, cell: Cell, gpu_ids: list[str]) -> list[str]:
    """The `bench` command line of a cell (`--gpus`: the GPUs Ray granted, by their physical ids, as a user
    names them to bench on a node; none: CPU)."""
    cmd = [sys.executable, "-m", "rdagent_autorl", "bench", "--task", cell.task, "--agent", cell.agent,
           "--seed", str(cell.seed), "--sweep-cell", f"{config.name}={cell.key}", "--gpus", ",".join(gpu_ids)]
    for flag, value in (("--model", cell.model), ("--timeout", config.budget), ("--data", config.data),
                        ("--limit", config.limit), ("--sandbox", config.sandbox)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd + (["--smoke"] if config.smoke else [])


def cell_env(config: SweepConfig, cell: Cell, environ: dict[str, str]) -> dict[str, str]:
    """The cell's environment: where it runs, plus its driver's settings and the keys it names (read here,
    by name: they are never written into the sweep's files). A key that is not set is an error."""
    driver = driver_of(config, cell.driver) if cell.driver != NO_DRIVER else None
    env = dict(environ)
    if driver is None:
        return env
    if missing := [k for k in driver.keys if not environ.get(k)]:
        raise SweepError(f"driver {driver.name!r} needs {', '.join(missing)}, not set in the cell's environment "
                         "(keys are read by name from the environment where the cell runs)")
    env.update({k: v for k, v in driver.env.items() if v is not None})
    return {k: v for k, v in env.items() if not (k in driver.env and driver.env[k] is None)}


def run_cell(config_json: str, cell_json: str, log_path: str) -> dict[str, Any]:
    """Body of a cell's Ray task: the bench run as a subprocess, its output to the cell's log. Returns
    {"returncode", "error", "seconds"}. A cancelled task (KeyboardInterrupt here) stops the run with SIGTERM;
    a worker that dies takes the run with it (bench --sweep-cell asks for a parent-death signal), and the
    run's own processes die with it in turn (the agent's reaper, the grading workers)."""
    config, cell = SweepConfig.model_validate_json(config_json), Cell.model_validate_json(cell_json)
    start = time.time()
    try:
        import ray

        gpu_ids = [str(g) for g in ray.get_gpu_ids()] if config.gpus_per_run else []
    except Exception:  # outside a Ray worker (the dry-run's command preview, tests)
        gpu_ids = []
    try:
        env = cell_env(config, cell, dict(os.environ))
        if gpu_ids:  # the run pins its own processes to the ids given (CUDA_VISIBLE_DEVICES counts physical GPUs)
            env.pop("CUDA_VISIBLE_DEVICES", None)
    except SweepError as exc:
        Path(log_path).write_text(f"error: {exc}\n")
        return {"returncode": None, "error": str(exc), "seconds": 0.0}
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(bench_command(config, cell, gpu_ids)) + "\n")
        log.flush()
        proc = subprocess.Popen(bench_command(config, cell, gpu_ids), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = None
            while code is None:  # short waits: Ray's cancel arrives as a KeyboardInterrupt between bytecodes,
                try:             # never inside one long blocking wait
                    code = proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:  # ray.cancel (KeyboardInterrupt), worker shutdown: end the run and its processes
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
    error = None
    if code != 0:
        tail = Path(log_path).read_text(errors="replace")[-ERROR_TAIL_CHARS:]
        error = f"bench exited {code}: " + (tail.strip().splitlines() or [""])[-1]
    return {"returncode": code, "error": error, "seconds": round(time.time() - start, 1)}


@dataclass
class CellState:
    cell: Cell
    # pending (not submitted), queued (submitted, waiting for Ray's resources), running, done, failed, skipped
    # (in the ledger already), cancelled
    status: str = "pending"
    run_dir: str | None = None
    error: str | None = None
    started: float | None = None
    ended: float | None = None
    log: str = ""

    def to_json(self) -> dict[str, Any]:
        c = self.cell
        return {"key": c.key, "task": c.task_id, "agent": c.agent_name, "driver": c.driver, "model": c.model,
                "seed": c.seed, "status": self.status, "run_dir": self.run_dir, "error": self.error,
                "started": self.started, "ended": self.ended, "log": self.log}


@dataclass
class Sweep:
    """A sweep being run: its folder, its cells' states, and the manifest written at every change."""

    config: SweepConfig
    folder: Path
    states: list[CellState] = field(default_factory=list)

    def save(self) -> None:
        write_json_atomic(self.folder / MANIFEST, {"sweep_id": self.config.name, "cells": [s.to_json() for s in self.states]})

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("done", "running", "queued", "failed", "pending", "skipped", "cancelled")}
        for s in self.states:
            out[s.status] += 1
        return out


def ledger_cells(sweep_id: str) -> dict[str, dict]:
    """The sweep's cells that have a (trusted) ledger row: {cell key: row}."""
    from rdagent_autorl.bench.ledger import runs

    return {r["cell"]: r for r in runs(sweep_id=sweep_id) if r.get("cell")}


def prepare(config: SweepConfig, text: str, *, resume: bool, dry_run: bool) -> Sweep:
    """The sweep's folder and cell states: cells in the ledger are `skipped` on --resume. A sweep name that
    was used before needs --resume (its runs are in the ledger under that name)."""
    folder = sweeps_dir() / config.name
    cells = expand(config)
    if folder.exists() and not resume and not dry_run:
        raise SweepError(f"sweep {config.name!r} exists ({folder}): --resume to continue it, or give it a new name")
    done = ledger_cells(config.name) if resume else {}
    states = [CellState(c, status="skipped", run_dir=str(Path(done[c.key]["workspace"]).parent))
              if c.key in done else CellState(c) for c in cells]
    sweep = Sweep(config, folder, states)
    if not dry_run:
        (folder / "cells").mkdir(parents=True, exist_ok=True)
        (folder / SWEEP_FILE).write_text(text)
        sweep.save()
    return sweep


def _init_ray(address: str | None, num_cpus: float | None) -> None:
    try:
        import ray
    except ImportError:
        raise SweepError("rdagent autorl sweep runs on Ray: pip install -e '.[sweep]' (or pip install ray)") from None
    if ray.is_initialized():
        return
    # log_to_driver=False: each cell's output goes to its log; the console shows the live table.
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, **kwargs)


def execute(sweep: Sweep, *, address: str | None = None, max_parallel: int | None = None,
            on_change: Callable[[Sweep], None] = lambda s: None) -> Sweep:
    """Run the sweep's pending cells as Ray tasks, at most `max_parallel` at once (default: as many as Ray's
    resources allow); each finished cell is looked up in the ledger. Ctrl-C cancels the running cells (their
    run trees end), marks them cancelled and re-raises."""
    import ray

    config = sweep.config
    _init_ray(address, None)
    # max_calls=1: a fresh worker per cell, no state carried between runs; max_retries=0: a failed cell is
    # recorded as failed, never run twice behind the ledger's back.
    remote = ray.remote(max_calls=1, max_retries=0)(run_cell).options(num_cpus=config.cpus_per_run,
                                                                      num_gpus=config.gpus_per_run)
    pending = [s for s in sweep.states if s.status == "pending"]
    running: dict[Any, CellState] = {}  # submitted: queued or running
    limit = max_parallel or len(pending) or 1
    try:
        while pending or running:
            while pending and len(running) < limit:
                state = pending.pop(0)
                state.status = "queued"
                state.log = str(sweep.folder / "cells" / f"{state.cell.slug}.log")
                Path(state.log).unlink(missing_ok=True)  # a resumed cell's old log: its new one says it started
                running[remote.remote(config.model_dump_json(), state.cell.model_dump_json(), state.log)] = state
                sweep.save()
                on_change(sweep)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for state in running.values():  # a cell's task writes its log first: then it runs
                if state.status == "queued" and Path(state.log).exists():
                    state.status, state.started = "running", Path(state.log).stat().st_mtime
                    sweep.save()
                    on_change(sweep)
            for ref in ready:
                _finish(sweep, running.pop(ref), ref)
                on_change(sweep)
    except KeyboardInterrupt:
        for ref, state in running.items():
            ray.cancel(ref)
            state.status, state.ended, state.error = "cancelled", time.time(), "stopped by Ctrl-C"
        if running:
            ray.wait(list(running), num_returns=len(running), timeout=60)  # the cells end their run trees
        done = ledger_cells(config.name)  # a run that finished as the stop came has its row: it is done
        for state in running.values():
            if state.cell.key in done:
                state.status, state.error = "done", None
                state.run_dir = str(Path(done[state.cell.key]["workspace"]).parent)
        sweep.save()
        raise
    finally:
        sweep.save()
    return sweep


def _finish(sweep: Sweep, state: CellState, ref) -> None:
    import ray

    state.ended = time.time()
    if state.started is None and Path(state.log).exists():  # it ran and ended between two looks
        state.started = Path(state.log).stat().st_mtime
    try:
        outcome = ray.get(ref)
    except Exception as exc:  # the worker died (OOM killer, node lost): the cell failed, the sweep goes on
        outcome = {"returncode": None, "error": f"the cell's Ray task failed: {type(exc).__name__}: {exc}"[:500]}
    row = ledger_cells(sweep.config.name).get(state.cell.key)
    if row is not None and outcome.get("returncode") == 0:
        state.status, state.run_dir = "done", str(Path(row["workspace"]).parent)
    else:
        state.status = "failed"
        state.error = outcome.get("error") or "the run finished without a ledger row"
    sweep.save()
