"""`rdagent autorl bench`: one agent, one task, one budget, the same grader for everyone.

    <home>/bench/<task>-<agent>-<time>/
      record.json      task, agent, driver, base model, baseline, start/deadline/end, exit, deadline kill
      workspace/       the agent's isolated workspace (run/workspace.py) + scores.jsonl, refusals.jsonl
      agent.log        the agent's stdout and stderr;  workspace/grader.log: the grader's
      snapshots/       every code revision (bench/recorder.py)
      reports/         written at the end (bench/report.py)
All times are time.time() of this machine (one clock for the agent, the grader and the recorder).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from rdagent_autorl.bench.agents import AgentError, load_agent
from rdagent_autorl.bench.recorder import CodeRecorder
from rdagent_autorl.grading.evaluate import write_json_atomic

RECORD = "record.json"
TERM_GRACE_S = 5.0


def stray_processes(workspace: Path) -> list:
    """Processes still carrying this workspace in their environment: what a kill of the agent's
    process group missed (a child that started its own session)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get("WORKSPACE") == str(workspace):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_agent(proc: subprocess.Popen, workspace: Path) -> None:
    """SIGTERM to the agent's process group, SIGKILL after a grace period, then any stray."""
    import psutil

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(proc.pid, signal.SIGKILL)  # the group can outlive its leader
    except ProcessLookupError:  # nothing left in the group
        pass
    proc.wait()
    strays = stray_processes(workspace)
    for p in strays:
        p.kill()
    psutil.wait_procs(strays, timeout=TERM_GRACE_S)


def agent_driver(agent, env: dict[str, str]) -> str | None:
    """The driver LLM an agent uses, for the ledger: the configured chat model, or the loop's scripted fake."""
    if not agent.uses_llm:
        return None
    configured = env.get("LITELLM_CHAT_MODEL") or env.get("CHAT_MODEL") or env.get("LLM_MODEL")
    if configured:
        return configured
    return "scripted" if agent.name == "rdagent" and env.get("AUTORL_SMOKE") == "1" and not env.get("BACKEND") else \
        env.get("BACKEND")


def run_bench(task_arg: str, agent_name: str, *, model: str, data: str = "auto", timeout_s: int, gpus: list[str],
              limit: int | None = None, port: int = 0, runs_dir: Path, extra_env: dict[str, str] | None = None,
              poll_s: float = 5.0) -> dict:
    from rdagent_autorl.models.resolve import resolve_model
    from rdagent_autorl.grading.service import GraderThread
    from rdagent_autorl.run.workspace import agent_env, create_workspace
    from rdagent_autorl.settings import get_settings
    from rdagent_autorl.tasks import get_task

    agent = load_agent(agent_name)
    if problems := agent.missing({**os.environ, **(extra_env or {})}):
        raise AgentError(f"agent {agent.name} is not ready here: " + "; ".join(problems))
    task = get_task(task_arg)
    task.require_available()
    base_model = resolve_model(model)
    run_dir = (runs_dir / f"{task.id}-{agent.name}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}").resolve()
    run = create_workspace(run_dir / "workspace", task, task_arg, base_model, data_source=data, limit=limit,
                           gpus=gpus, timeout_s=timeout_s)
    recorder = CodeRecorder(run.workspace / "code", run_dir / "snapshots")
    run.on_receive = lambda sub_id: recorder.snapshot("submission", sub_id)
    record = {"run_id": run_dir.name, "task": task.id, "agent": agent.name,
              "driver": agent_driver(agent, {**os.environ, **(extra_env or {})}), "base_model": str(base_model),
              "timeout_s": timeout_s, "gpus": gpus, "data_source": run.meta.data_source, "baseline": None,
              "start": None, "deadline": None, "end": None, "agent_exit": None, "killed_at_deadline": False,
              "workspace": str(run.workspace)}
    with GraderThread(run, get_settings().grader_host, port) as grader:
        baseline = run.baseline()
        record["baseline"] = {k: getattr(baseline, k) for k in ("score", "ci_low", "ci_high", "n")}
        # The agent's clock starts with the agent, not with the baseline's evaluation.
        run.meta.start = time.time()
        run.save_meta()
        record["start"], record["deadline"] = run.meta.start, run.meta.start + timeout_s
        write_json_atomic(run_dir / RECORD, record)
        recorder.snapshot("start")
        env = {**os.environ, **(extra_env or {}), **agent_env(run.workspace, task.id, grader.url),
               "AUTORL_PYTHON": sys.executable, "AUTORL_TEMPLATES": str(get_settings().templates_dir)}
        with (run_dir / "agent.log").open("w") as log:
            proc = subprocess.Popen(["bash", str(agent.script)], cwd=run.workspace, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            recorder.start_polling(poll_s)
            try:
                record["agent_exit"] = proc.wait(timeout=max(0.0, record["deadline"] - time.time()))
            except subprocess.TimeoutExpired:
                record["killed_at_deadline"] = True
            finally:
                stop_agent(proc, run.workspace)
                recorder.stop_polling()
        recorder.snapshot("final")
    record["end"] = time.time()
    run.meta.end = record["end"]
    run.save_meta()
    write_json_atomic(run_dir / RECORD, record)
    return finish(run_dir)


def finish(run_dir: Path) -> dict:
    """The report and the ledger row of a finished run; returns the record with its metrics."""
    from rdagent_autorl.bench.ledger import add_run
    from rdagent_autorl.bench.report import write_report

    record = json.loads((run_dir / RECORD).read_text())
    metrics = write_report(run_dir)
    add_run(record, metrics)
    return {**record, "metrics": metrics, "run_dir": str(run_dir)}
