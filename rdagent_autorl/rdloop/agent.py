"""The RD-Agent loop as a benchmark agent (`agents/rdagent`): run inside a harness's workspace, with
the harness's grader and budget, from the documented agent environment only.

    python -m rdagent_autorl.rdloop.agent      (started by `rdagent autorl bench --agent rdagent`)

Its own files (trace, logs, scoreboard) go to $WORKSPACE/rdagent_run; its code goes to
$WORKSPACE/code/loop_XX, where the harness records it like any agent's.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx


def context_from_env():
    from rdagent_autorl.grading.run import RUN_META, RunMeta
    from rdagent_autorl.rdloop.conf import RunContext
    from rdagent_autorl.records import read_json
    from rdagent_autorl.run.driver_name import RDAGENT_CHAT_VARS, SCRIPTED, driver_name
    from rdagent_autorl.tasks import get_task

    workspace = Path(os.environ["WORKSPACE"]).resolve()
    url = os.environ["GRADING_SERVER_URL"]
    meta = read_json(workspace / RUN_META, RunMeta)
    task = get_task(meta.task)
    smoke = os.environ.get("AUTORL_SMOKE") == "1"
    # The same name the harness recorded for this agent (agents/rdagent/agent.yaml: driver_env, smoke_driver).
    driver = driver_name(chat_vars=RDAGENT_CHAT_VARS, fallback=SCRIPTED if smoke else None)
    if driver is None:
        raise SystemExit("rdagent agent: no driver LLM configured (set CHAT_MODEL in .env) and not a smoke run")
    left = httpx.get(f"{url}/time", timeout=30).json()["remaining_s"]
    # AUTORL_LOOP_N caps the loops; a smoke run does the task's smoke loops, like `rdagent autorl --smoke`.
    loop_n = os.environ.get("AUTORL_LOOP_N") or (task.require_smoke().loop_n if smoke else None)
    gpus = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g]
    return RunContext(task=meta.task, task_id=task.id, level=task.level, run_dir=workspace / "rdagent_run",
                      workspace=workspace, base_model=Path(os.environ["BASE_MODEL"]).resolve(),
                      data_source=meta.data_source, gpus=gpus or meta.gpus, smoke=smoke,
                      driver=driver, grader_url=url, deadline=time.time() + left, timeout_s=int(left),
                      loop_n=int(loop_n) if loop_n else None)


def main() -> None:
    from rdagent_autorl.rdloop.session import format_scoreboard, run_loop

    ctx = context_from_env()
    baseline = httpx.get(f"{ctx.grader_url}/baseline", timeout=None).json()
    print(format_scoreboard(run_loop(ctx, baseline)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
