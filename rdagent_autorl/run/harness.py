"""The one run harness behind both entry points:

    rdagent autorl --task T    the harness + the in-process RD-Agent loop   (rdloop/session.py, LoopAgent)
    rdagent autorl bench ...   the harness + a subprocess agent            (run_bench, run/agent_process.py)

It lays out the run folder and the agent's workspace (run/workspace.py), records the agent's code
(bench/recorder.py), starts the grader (grading/service.GraderThread), grades the baseline, starts the
agent's clock *after* the baseline (deadline = start + timeout, for both entry points), runs the agent,
writes the typed run record (bench/run_record.RunRecord) at each step, and ends with the report and
the ledger row (`finish`).

    <home>/runs/<task>-<time>/            (the loop)    <home>/bench/<task>-<agent>-<time>/   (bench)
      record.json      the RunRecord: task, agent, entry, driver, base model, baseline, start/deadline/end, exit
      workspace/       the agent's isolated workspace + failures.jsonl, copies of scores.jsonl and refusals.jsonl
      workspace.records/  the grader's own scores.jsonl, refusals.jsonl and grader.log (what reports trust)
      grader-snapshots/   the grader's private copies of submissions, while they are graded
      snapshots/       every code revision (bench/recorder.py)
      reports/         written at the end (bench/report.py)
      agent.log        (bench) the agent's stdout and stderr
      run.json, trace/, logs/, scoreboard.json   (the loop's own files, rdloop/session.py)
All times are time.time() of this machine (one clock for the agent, the grader and the recorder).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping, Protocol

from rdagent_autorl.bench.recorder import CodeRecorder
from rdagent_autorl.bench.run_record import RECORD, Baseline, RunRecord, read_record
from rdagent_autorl.records import write_json_atomic
from rdagent_autorl.run.driver_name import CHAT_MODEL_VARS, driver_name

if TYPE_CHECKING:
    from rdagent_autorl.grading.evaluate import EvalResult
    from rdagent_autorl.grading.run import GradingRun
    from rdagent_autorl.tasks import TaskSpec

RUNS_FOLDER = {"loop": "runs", "bench": "bench"}  # under AUTORL_HOME
AGENT_LOG = "agent.log"


class RunError(RuntimeError):
    """A run cannot start or resume; the message says why and what to do."""


def parse_duration(text: str) -> int:
    """'90', '90s', '15m', '2h', '1d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(float(text))
    except ValueError:
        raise RunError(f"cannot read the duration {text!r}: use e.g. 600, 90s, 15m, 2h") from None


@dataclass(frozen=True)
class AgentExit:
    """How an agent runner ended: its exit code (None: killed) and whether the deadline killed it."""

    code: int | None
    killed_at_deadline: bool = False


@dataclass(frozen=True)
class LiveRun:
    """What an agent runner gets once the clock runs: where to work, the grader, the baseline, the deadline."""

    harness: "Harness"
    grader_url: str
    baseline: "EvalResult"
    deadline: float  # time.time() at which the budget is used

    @property
    def run_dir(self) -> Path:
        return self.harness.run_dir

    @property
    def workspace(self) -> Path:
        return self.harness.workspace

    @property
    def task(self) -> "TaskSpec":
        return self.harness.grading.task

    @property
    def recorder(self) -> CodeRecorder:
        return self.harness.recorder


class AgentRunner(Protocol):
    """An agent the harness runs within the clock: in process (the loop) or a subprocess (bench)."""

    def __call__(self, live: LiveRun) -> AgentExit: ...


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    record: RunRecord
    metrics: dict[str, Any]


class Harness:
    """One run: its folder, workspace, grading state, code recorder and record."""

    def __init__(self, run_dir: Path, grading: "GradingRun", record: RunRecord, time_left_s: float | None = None):
        self.run_dir, self.grading, self.record = Path(run_dir).resolve(), grading, record
        self.workspace = grading.workspace
        self.recorder = CodeRecorder(self.workspace / "code", self.run_dir / "snapshots")
        grading.on_receive = lambda sub_id: self.recorder.snapshot("submission", sub_id)
        self.time_left_s = time_left_s  # a resumed run gets what was left, not a new budget

    @classmethod
    def create(cls, task_arg: str, model: str, *, runs_dir: Path, agent: str, entry: Literal["bench", "loop"],
               driver: str | None, timeout_s: int, gpus: list[str], data: str = "auto", limit: int | None = None,
               smoke: bool = False, sandbox: str = "", seed: int | None = None,
               sweep_cell: tuple[str, str] | None = None) -> "Harness":
        """A new run folder with its workspace (nothing graded, no clock yet)."""
        from rdagent_autorl.models.resolve import resolve_model
        from rdagent_autorl.run.workspace import create_workspace
        from rdagent_autorl.tasks import get_task

        task = get_task(task_arg)
        task.require_available()
        judge = _checked_judge(task)
        base_model = resolve_model(model)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        run_dir = (Path(runs_dir) / "-".join([task.id, *([agent] if entry == "bench" else []), stamp])).resolve()
        grading = create_workspace(run_dir / "workspace", task, task_arg, base_model, data_source=data, limit=limit,
                                   gpus=gpus, timeout_s=timeout_s)
        record = RunRecord(run_id=run_dir.name, task=task.id, agent=agent, entry=entry, driver=driver,
                           base_model=str(base_model), data_source=grading.meta.data_source, gpus=list(gpus),
                           limit=limit, smoke=smoke, timeout_s=timeout_s, workspace=str(grading.workspace), judge=judge,
                           sandbox=sandbox, seed=seed, sweep_id=sweep_cell[0] if sweep_cell else None,
                           cell=sweep_cell[1] if sweep_cell else None)
        harness = cls(run_dir, grading, record)
        harness.save()
        return harness

    @classmethod
    def reopen(cls, run_dir: Path, *, time_left_s: float, driver: str | None = None,
               fallback: RunRecord | None = None) -> "Harness":
        """A stopped run, to be continued with `time_left_s` on its clock (its record, submissions and
        code revisions go on). `fallback`: the record to use where an older version wrote none."""
        from rdagent_autorl.grading.run import GradingRun

        run_dir = Path(run_dir).resolve()
        if (run_dir / RECORD).exists():
            record = read_record(run_dir)
        elif fallback is not None:
            record = fallback
        else:
            raise RunError(f"{run_dir} has no {RECORD}: it is not a recorded run")
        if driver is not None:
            record = record.model_copy(update={"driver": driver})
        return cls(run_dir, GradingRun.open(run_dir / "workspace"), record, time_left_s=time_left_s)

    def save(self) -> None:
        write_json_atomic(self.run_dir / RECORD, self.record)

    def _grade_baseline(self) -> "EvalResult":
        try:
            return self.grading.baseline()
        except RuntimeError as exc:
            raise RunError(f"the base model {self.grading.meta.base_model} could not be graded: {exc}") from exc

    def _start_clock(self, baseline: "EvalResult") -> float:
        """The agent's clock starts now, after the baseline: the grader's /time and deadline agree with the record."""
        meta, now = self.grading.meta, time.time()
        if self.time_left_s is None:
            meta.start = now
            deadline = now + meta.timeout_s
        else:  # resumed: the original start stays (the report's time axis), the deadline is what was left
            deadline = now + self.time_left_s
            meta.timeout_s = int(deadline - meta.start)
        meta.end = None
        self.grading.save_meta()
        self.record = self.record.model_copy(update={
            "start": meta.start, "deadline": deadline, "end": None, "agent_exit": None, "killed_at_deadline": False,
            "baseline": Baseline(score=baseline.score, ci_low=baseline.ci_low, ci_high=baseline.ci_high, n=baseline.n)})
        self.save()
        return deadline

    def run(self, agent: AgentRunner, *, port: int = 0) -> RunResult:
        """Grader up, baseline, clock, the agent, the end; then the report and the ledger row.
        An agent runner that raises leaves its record (with its end) and no report."""
        from rdagent_autorl.grading.service import GraderThread
        from rdagent_autorl.process_control import deny_inspection
        from rdagent_autorl.settings import get_settings

        # The grader runs in this process: an agent of the same user with no sandbox around it must not read
        # its memory (held-out items, the installation key) through /proc; a sandbox hides it anyway.
        deny_inspection()
        with GraderThread(self.grading, get_settings().grader_host, port) as grader:
            baseline = self._grade_baseline()
            deadline = self._start_clock(baseline)
            self.recorder.snapshot("start")
            try:
                outcome = agent(LiveRun(self, grader.url, baseline, deadline))
                self.record = self.record.model_copy(
                    update={"agent_exit": outcome.code, "killed_at_deadline": outcome.killed_at_deadline})
            finally:
                self.recorder.snapshot("final")
                end = time.time()
                self.grading.meta.end = end
                self.grading.save_meta()
                self.record = self.record.model_copy(update={"end": end})
                self.save()
            # After the agent's clock, with the grader still up: the chosen checkpoint on the final part.
            from rdagent_autorl.grading.final import grade_final

            grade_final(self.grading)
        return finish(self.run_dir)


def finish(run_dir: Path) -> RunResult:
    """The report and the ledger row of a finished run."""
    from rdagent_autorl.bench.ledger import add_run
    from rdagent_autorl.bench.report import write_report

    run_dir = Path(run_dir)
    record = read_record(run_dir)
    metrics = write_report(run_dir)
    add_run(record, metrics)
    return RunResult(run_dir, record, metrics)


def agent_driver(agent, env: Mapping[str, str], smoke: bool) -> str | None:
    """The driver a benchmark agent uses, as its declaration says where to read it (bench/agents.py)."""
    if not agent.uses_llm:
        return None
    return driver_name(env, chat_vars=agent.driver_env or CHAT_MODEL_VARS,
                       fallback=agent.smoke_driver if smoke else None)


class SubprocessAgent:
    """A benchmark agent: its start script run with bash in the workspace, in its own process group, with
    the documented environment (run/workspace.agent_env) plus AUTORL_PYTHON (this project's Python) and
    AUTORL_TEMPLATES, inside its sandbox (run/sandbox.py; `none`: unconfined), until it exits or the
    deadline kills its group; the recorder polls code/ meanwhile."""

    def __init__(self, script: Path, env: Mapping[str, str], poll_s: float = 5.0, sandbox: str = "none") -> None:
        self.script, self.env, self.poll_s, self.sandbox = Path(script), dict(env), poll_s, sandbox

    def __call__(self, live: LiveRun) -> AgentExit:
        from rdagent_autorl.run.agent_process import reaper_command, stop_agent
        from rdagent_autorl.run.workspace import agent_env
        from rdagent_autorl.settings import get_settings

        from rdagent_autorl.run.sandbox import for_run

        env = {**self.env, **agent_env(live.workspace, live.task, live.grader_url),
               "AUTORL_PYTHON": sys.executable, "AUTORL_TEMPLATES": str(get_settings().templates_dir)}
        grading = live.harness.grading
        box = for_run(self.sandbox, run_dir=live.run_dir, workspace=live.workspace, records=grading.records_dir,
                      base_model=grading.meta.base_model, agent_folder=self.script.parent, gpus=grading.meta.gpus,
                      python_path=env.get("PYTHONPATH", ""))
        cmd, env = box.wrap(["bash", str(self.script)], env)
        with (live.run_dir / AGENT_LOG).open("w") as log:
            # Under the reaper: everything the agent starts is ended with it, setsid or not (agent_process.py).
            proc = subprocess.Popen(reaper_command(cmd), cwd=live.workspace, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            live.recorder.start_polling(self.poll_s)
            try:
                return AgentExit(proc.wait(timeout=max(0.0, live.deadline - time.time())))
            except subprocess.TimeoutExpired:
                return AgentExit(None, killed_at_deadline=True)
            finally:
                stop_agent(proc, live.workspace)
                live.recorder.stop_polling()


def _checked_judge(task) -> str:
    """The judge's identity, after its probe: a bad judge configuration ends the run before it starts."""
    from rdagent_autorl.grading.evaluate import check_judge

    try:
        return check_judge(task)
    except Exception as exc:  # JudgeNotConfigured, JudgeError (unreachable, no logprobs), TaskError (annotator)
        raise RunError(f"the judge of {task.id} is not usable: {exc}") from exc


def run_bench(task_arg: str, agent_name: str, *, model: str, data: str = "auto", timeout_s: int, gpus: list[str],
              limit: int | None = None, port: int = 0, runs_dir: Path, smoke: bool = False,
              extra_env: dict[str, str] | None = None, poll_s: float = 5.0, sandbox: str | None = None,
              seed: int | None = None, sweep_cell: tuple[str, str] | None = None) -> RunResult:
    """`bench`: the harness + the agent's start script as a subprocess, in the sandbox asked for [default:
    AUTORL_AGENT_SANDBOX]. Smoke runs tell the agent AUTORL_SMOKE=1; a seed reaches it as AUTORL_SEED (the
    templates' training seed, templates/common.py). `sweep_cell`: (sweep id, cell key) of a sweep's run."""
    from rdagent_autorl.bench.agents import AgentError, load_agent
    from rdagent_autorl.run.sandbox import SandboxUnavailable, resolve_kind
    from rdagent_autorl.settings import get_settings

    agent = load_agent(agent_name)
    try:
        kind = resolve_kind(sandbox or get_settings().agent_sandbox)
    except SandboxUnavailable as exc:
        raise RunError(str(exc)) from exc
    env = {**os.environ, **(extra_env or {}), **({"AUTORL_SMOKE": "1"} if smoke else {}),
           **({"AUTORL_SEED": str(seed)} if seed is not None else {})}
    if problems := agent.missing(env):
        raise AgentError(f"agent {agent.name} is not ready here: " + "; ".join(problems))
    harness = Harness.create(task_arg, model, runs_dir=runs_dir, agent=agent.name, entry="bench",
                             driver=agent_driver(agent, env, smoke), timeout_s=timeout_s, gpus=gpus, data=data,
                             limit=limit, smoke=smoke, sandbox=kind, seed=seed, sweep_cell=sweep_cell)
    return harness.run(SubprocessAgent(agent.script, env, poll_s, sandbox=kind), port=port)
