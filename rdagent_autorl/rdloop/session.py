"""One run of the loop from the command line to the scoreboard: the run harness (run/harness.py: run
folder, workspace, grader, recorder, baseline, clock, record, report, ledger) with the RD-Agent loop as
its in-process agent (`LoopAgent`): point RD-Agent's global settings at the run, run (or resume) the
loop, and save the scoreboard.

    <home>/runs/<task>-<time>/
      run.json       the run context (task, model, budget, driver), read by --resume
      record.json    the harness's run record (agent "rdagent", entry "loop")
      workspace/     the agent workspace (see run/workspace.py): data, base_model, code/loop_XX, output/
      trace/         RD-Agent's trace (LOG_TRACE_PATH): pickled events + __session__ for resume
      logs/          dry-run and training logs;  rdagent.log: the console log
      snapshots/, reports/   the harness's code revisions and report
      scoreboard.json
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from rdagent_autorl.grading.final import FinalGrade, read_final
from rdagent_autorl.grading.run import SCORES, records_dir_for
from rdagent_autorl.rdloop.conf import RunContext
from rdagent_autorl.records import read_json, write_json_atomic
from rdagent_autorl.run.driver_name import SCRIPTED
from rdagent_autorl.run.harness import AgentExit, Harness, LiveRun, RunError, RunRecord

RUN_FILE, SCOREBOARD = "run.json", "scoreboard.json"


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


def new_run(task_arg: str, model: str, *, data: str, gpus: list[str], loop_n: int | None, timeout_s: int,
            smoke: bool, driver: str, limit: int | None, runs_dir: Path) -> tuple[RunContext, Harness]:
    harness = Harness.create(task_arg, model, runs_dir=runs_dir, agent="rdagent", entry="loop", driver=driver,
                             timeout_s=timeout_s, gpus=gpus, data=data, limit=limit, smoke=smoke)
    meta, task = harness.grading.meta, harness.grading.task
    # The deadline is provisional: the harness starts the agent's clock once the baseline is graded.
    ctx = RunContext(task=meta.task, task_id=task.id, level=task.level, run_dir=harness.run_dir,
                     workspace=harness.workspace, base_model=Path(meta.base_model), data_source=meta.data_source,
                     gpus=gpus, smoke=smoke, driver=driver, deadline=time.time() + timeout_s, timeout_s=timeout_s,
                     loop_n=loop_n)
    return ctx, harness


def find_run(path: Path) -> tuple[Path, Path]:
    """(run folder, what to load the loop from) for a run folder, its trace folder or a session file."""
    path = path.expanduser().resolve()
    for candidate in [path, *path.parents]:
        if (candidate / RUN_FILE).exists():
            trace = candidate / "trace"
            if not (trace / "__session__").exists():
                raise RunError(f"{candidate} has no saved loop steps (trace/__session__): nothing to resume")
            return candidate, path if path.is_file() else trace
    raise RunError(f"{path} is not inside an autorl run folder (no {RUN_FILE} found)")


def resume_run(path: Path, driver: str) -> tuple[RunContext, Harness, Path]:
    run_dir, session = find_run(path)
    ctx = read_json(run_dir / RUN_FILE, RunContext)
    # The budget left when the run stopped (its last saved step) is what the resumed run gets.
    steps = sorted((run_dir / "trace" / "__session__").glob("*/*_*"), key=lambda p: p.stat().st_mtime)
    left = max(0.0, ctx.deadline - steps[-1].stat().st_mtime) if steps else ctx.timeout_s
    fallback = RunRecord(run_id=run_dir.name, task=ctx.task_id, agent="rdagent", entry="loop", driver=driver,
                         base_model=str(ctx.base_model), data_source=ctx.data_source, gpus=ctx.gpus, smoke=ctx.smoke,
                         timeout_s=ctx.timeout_s, workspace=str(ctx.workspace))
    harness = Harness.reopen(run_dir, time_left_s=left, driver=driver, fallback=fallback)
    return ctx.model_copy(update={"deadline": time.time() + left, "driver": driver}), harness, session


def scoreboard(ctx: RunContext, baseline: dict, rows: list[dict]) -> dict:
    scored = [r for r in rows if r["score"] is not None]
    best = max(scored, key=lambda r: r["score"], default=None)
    return {"task": ctx.task_id, "base_model": str(ctx.base_model), "driver": ctx.driver, "baseline": baseline,
            "loops": rows, "best": best, "run_dir": str(ctx.run_dir), "trace": str(ctx.trace_dir),
            "workspace": str(ctx.workspace), "scores": str(records_dir_for(ctx.workspace) / SCORES)}


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
    lines.append(f"best: {best['score']} (loop {best['loop']}, {best['checkpoint']}; selection part)" if best
                 else "best: no scored loop")
    if board.get("final"):
        lines.append(f"final: {FinalGrade.model_validate(board['final']).summary()}")
    lines += [f"trace:     {board['trace']}   (view: rdagent autorl ui {board['run_dir']})",
              f"workspace: {board['workspace']}", f"scores:    {board['scores']}"]
    return "\n".join(lines)


class LoopAgent:
    """The RD-Agent loop as the harness's in-process agent runner: it works against the harness's
    grader, from the baseline the harness graded, until the harness's deadline."""

    def __init__(self, ctx: RunContext, *, session: Path | None = None, step_n: int | None = None) -> None:
        self.ctx, self.session, self.step_n = ctx, session, step_n
        self.board: dict | None = None

    def __call__(self, live: LiveRun) -> AgentExit:
        self.ctx = self.ctx.model_copy(update={"grader_url": live.grader_url, "deadline": live.deadline})
        self.board = run_loop(self.ctx, live.baseline.model_dump(), session=self.session, step_n=self.step_n)
        return AgentExit(0)


def execute(ctx: RunContext, harness: Harness, *, session: Path | None = None, step_n: int | None = None,
            port: int = 0) -> dict:
    """Run (or resume) the loop of `ctx` in its harness; returns the scoreboard (also saved)."""
    agent = LoopAgent(ctx, session=session, step_n=step_n)
    harness.run(agent, port=port)
    assert agent.board is not None
    # The run's score, graded by the harness after the loop: its chosen checkpoint on the final part.
    final = read_final(harness.grading.records_dir)
    agent.board["final"] = final.model_dump() if final else None
    write_json_atomic(ctx.run_dir / SCOREBOARD, agent.board)
    return agent.board


def run_loop(ctx: RunContext, baseline: dict, *, session: Path | None = None, step_n: int | None = None) -> dict:
    """The loop itself, against the grader at ctx.grader_url (ours, or a benchmark harness's)."""
    from loguru import logger as loguru_logger

    configure_rdagent(ctx.run_dir, scripted=ctx.driver == SCRIPTED)
    from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING, set_run_context
    from rdagent_autorl.rdloop.experiment import history
    from rdagent_autorl.rdloop.loop import AutoRLLoop

    ctx.logs_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(ctx.run_dir / RUN_FILE, ctx)
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
