"""One run of the loop, from the command line to the scoreboard: lay out the run folder and the agent
workspace, point RD-Agent's global settings at it, start the grading service, score the baseline,
run (or resume) the loop, and report.

    <home>/runs/<task>-<time>/
      run.json       the run context (task, model, budget, driver), read by --resume
      workspace/     the agent workspace (see run/workspace.py): data, base_model, code/loop_XX, output/
      trace/         RD-Agent's trace (LOG_TRACE_PATH): pickled events + __session__ for resume
      logs/          dry-run and training logs;  rdagent.log: the console log
      scoreboard.json
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rdagent_autorl.rdloop.conf import RunContext

if TYPE_CHECKING:
    from rdagent_autorl.grading.run import GradingRun

RUN_FILE, SCOREBOARD = "run.json", "scoreboard.json"


class SessionError(RuntimeError):
    """A run cannot start or resume; the message says why and what to do."""


def configure_rdagent(run_dir: Path, scripted: bool) -> None:
    """RD-Agent reads its paths once, at import: set them in the environment for modules not imported
    yet and on the settings objects for those that are, so nothing lands in the current directory."""
    paths = {"LOG_TRACE_PATH": run_dir / "trace", "WORKSPACE_PATH": run_dir / "rdagent_workspace",
             "PROMPT_CACHE_PATH": run_dir / "prompt_cache.db", "PICKLE_CACHE_FOLDER_PATH_STR": run_dir / "pickle_cache"}
    os.environ.update({k: str(v) for k, v in paths.items()})
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else litellm fetches a price list at import
    from rdagent.core.conf import RD_AGENT_SETTINGS
    from rdagent.log import rdagent_logger as logger
    from rdagent.log.conf import LOG_SETTINGS
    from rdagent.oai.llm_conf import LLM_SETTINGS

    from rdagent_autorl.rdloop.driver import REDACTED_BACKEND, SCRIPTED_BACKEND

    LOG_SETTINGS.trace_path = str(paths["LOG_TRACE_PATH"])
    logger.set_storages_path(paths["LOG_TRACE_PATH"])
    RD_AGENT_SETTINGS.workspace_path = paths["WORKSPACE_PATH"]
    RD_AGENT_SETTINGS.pickle_cache_folder_path_str = str(paths["PICKLE_CACHE_FOLDER_PATH_STR"])
    LLM_SETTINGS.prompt_cache_path = str(paths["PROMPT_CACHE_PATH"])
    # The driver: the scripted fake, a backend the user named with BACKEND=..., or LiteLLM with keys masked.
    LLM_SETTINGS.backend = SCRIPTED_BACKEND if scripted else os.environ.get("BACKEND") or REDACTED_BACKEND


def parse_duration(text: str) -> int:
    """'90', '90s', '15m', '2h', '1d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(float(text))
    except ValueError:
        raise SessionError(f"cannot read the duration {text!r}: use e.g. 600, 90s, 15m, 2h") from None


def new_run(task_arg: str, model: str, *, data: str, gpus: list[str], loop_n: int | None, timeout_s: int,
            smoke: bool, driver: str, limit: int | None, runs_dir: Path) -> tuple[RunContext, "GradingRun"]:
    from rdagent_autorl.models.resolve import resolve_model
    from rdagent_autorl.run.workspace import create_workspace
    from rdagent_autorl.tasks import get_task

    task = get_task(task_arg)
    task.require_available()
    base_model = resolve_model(model)
    run_dir = runs_dir / f"{task.id}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
    run = create_workspace(run_dir / "workspace", task, task_arg, base_model, data_source=data, limit=limit,
                           gpus=gpus, timeout_s=timeout_s)
    ctx = RunContext(task=run.meta.task, task_id=task.id, level=task.level, run_dir=run_dir.resolve(),
                     workspace=run.workspace, base_model=base_model, data_source=run.meta.data_source, gpus=gpus,
                     smoke=smoke, driver=driver, deadline=run.meta.start + timeout_s, timeout_s=timeout_s, loop_n=loop_n)
    return ctx, run


def find_run(path: Path) -> tuple[Path, Path]:
    """(run folder, what to load the loop from) for a run folder, its trace folder or a session file."""
    path = path.expanduser().resolve()
    for candidate in [path, *path.parents]:
        if (candidate / RUN_FILE).exists():
            trace = candidate / "trace"
            if not (trace / "__session__").exists():
                raise SessionError(f"{candidate} has no saved loop steps (trace/__session__): nothing to resume")
            return candidate, path if path.is_file() else trace
    raise SessionError(f"{path} is not inside an autorl run folder (no {RUN_FILE} found)")


def resume_run(path: Path, driver: str) -> tuple[RunContext, "GradingRun", Path]:
    from rdagent_autorl.grading.run import GradingRun

    run_dir, session = find_run(path)
    ctx = RunContext.model_validate_json((run_dir / RUN_FILE).read_text())
    # The budget left when the run stopped (its last saved step) is what the resumed run gets.
    steps = sorted((run_dir / "trace" / "__session__").glob("*/*_*"), key=lambda p: p.stat().st_mtime)
    left = max(0.0, ctx.deadline - steps[-1].stat().st_mtime) if steps else ctx.timeout_s
    run = GradingRun.open(ctx.workspace)
    run.meta.timeout_s = int(time.time() + left - run.meta.start)
    run.save_meta()
    return ctx.model_copy(update={"deadline": time.time() + left, "driver": driver}), run, session


def scoreboard(ctx: RunContext, baseline: dict, rows: list[dict]) -> dict:
    scored = [r for r in rows if r["score"] is not None]
    best = max(scored, key=lambda r: r["score"], default=None)
    return {"task": ctx.task_id, "base_model": str(ctx.base_model), "driver": ctx.driver, "baseline": baseline,
            "loops": rows, "best": best, "run_dir": str(ctx.run_dir), "trace": str(ctx.trace_dir),
            "workspace": str(ctx.workspace), "scores": str(ctx.workspace / "scores.jsonl")}


def format_scoreboard(board: dict) -> str:
    base = board["baseline"]
    lines = [f"== autorl {board['task']}: base model {board['base_model']}, driver {board['driver']}",
             f"baseline: {base['score']} (95% CI {base['ci_low']}-{base['ci_high']}, n={base['n']})"]
    for r in board["loops"]:
        score = "-" if r["score"] is None else f"{r['score']} (CI {r['ci'][0]}-{r['ci'][1]})"
        mark = "  NEW BEST" if r["decision"] else ""
        lines += [f"loop {r['loop']}: {r['method']} [{r['template']} from {r['init_from']}] {r['config']}",
                  f"    hypothesis: {r['hypothesis']}", f"    {r['training']}", f"    score: {score}{mark}"]
    best = board["best"]
    lines.append(f"best: {best['score']} (loop {best['loop']}, {best['checkpoint']})" if best else "best: no scored loop")
    lines += [f"trace:     {board['trace']}   (view: rdagent autorl ui {board['run_dir']})",
              f"workspace: {board['workspace']}", f"scores:    {board['scores']}"]
    return "\n".join(lines)


def execute(ctx: RunContext, run, *, session: Path | None = None, step_n: int | None = None, port: int = 0) -> dict:
    """Run (or resume) the loop of `ctx` with its own grader up; returns the scoreboard (also saved)."""
    from rdagent_autorl.settings import get_settings

    from rdagent_autorl.bench.harness import RECORD, finish
    from rdagent_autorl.bench.recorder import CodeRecorder
    from rdagent_autorl.grading.evaluate import write_json_atomic
    from rdagent_autorl.grading.service import GraderThread

    # Recorded like any benchmark agent's run (code revisions, record.json), so `report` and the
    # ledger treat the loop's runs and the harness's alike.
    recorder = CodeRecorder(ctx.workspace / "code", ctx.run_dir / "snapshots")
    run.on_receive = lambda sub_id: recorder.snapshot("submission", sub_id)
    with GraderThread(run, get_settings().grader_host, port) as grader:
        ctx = ctx.model_copy(update={"grader_url": grader.url})
        try:
            baseline = run.baseline().model_dump()
        except RuntimeError as exc:
            raise SessionError(f"the base model {ctx.base_model} could not be graded: {exc}") from exc
        record = {"run_id": ctx.run_dir.name, "task": ctx.task_id, "agent": "rdagent", "driver": ctx.driver,
                  "base_model": str(ctx.base_model), "timeout_s": ctx.timeout_s, "start": run.meta.start,
                  "deadline": ctx.deadline, "end": None, "agent_exit": None, "killed_at_deadline": False,
                  "baseline": {k: baseline[k] for k in ("score", "ci_low", "ci_high", "n")},
                  "workspace": str(ctx.workspace)}
        write_json_atomic(ctx.run_dir / RECORD, record)
        recorder.snapshot("start")
        try:
            board = run_loop(ctx, baseline, session=session, step_n=step_n)
            record["agent_exit"] = 0
        finally:
            recorder.snapshot("final")
            record["end"] = time.time()
            write_json_atomic(ctx.run_dir / RECORD, record)
    finish(ctx.run_dir)
    return board


def run_loop(ctx: RunContext, baseline: dict, *, session: Path | None = None, step_n: int | None = None) -> dict:
    """The loop itself, against the grader at ctx.grader_url (ours, or a benchmark harness's)."""
    from loguru import logger as loguru_logger

    from rdagent_autorl.grading.evaluate import write_json_atomic

    configure_rdagent(ctx.run_dir, scripted=ctx.driver == "scripted")
    from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING, set_run_context
    from rdagent_autorl.rdloop.experiment import history
    from rdagent_autorl.rdloop.loop import AutoRLLoop

    ctx.logs_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(ctx.run_dir / RUN_FILE, ctx.model_dump(mode="json"))
    sink = loguru_logger.add(ctx.run_dir / "rdagent.log", level="INFO")
    try:
        set_run_context(ctx)
        if session is None:
            loop = AutoRLLoop(AUTORL_PROP_SETTING)
        else:
            loop = AutoRLLoop.load(session, checkout=True, replace_timer=True)
            loop.trace.scen.ctx = ctx  # the components share this scenario object
            loop.step_n = step_n  # the saved run's step limit (what stopped it) must not stop this one
        loop.trace.scen.baseline_score = baseline["score"]
        # Grading a checkpoint takes about as long as the baseline did, plus the worker's start-up.
        loop.trace.scen.baseline_seconds = baseline.get("timing", {}).get("total_s", 60.0) + 5
        try:
            asyncio.run(loop.run(step_n=step_n, loop_n=ctx.loop_n))
        finally:  # also after an error: the loops that finished are on the scoreboard
            board = scoreboard(ctx, baseline, history(loop.trace))
            write_json_atomic(ctx.run_dir / SCOREBOARD, board)
        return board
    finally:
        loguru_logger.remove(sink)
