"""Runner: train for real (a subprocess in the project's Python, the run's GPUs, a limit derived from
the time left), classify how it went, and submit the checkpoint to the run's grader over HTTP, as
any agent would. Never cached: a script is trained every time it is run."""

from __future__ import annotations

import time

import httpx
from rdagent.core.developer import Developer
from rdagent.core.exception import RunnerError
from rdagent.log import rdagent_logger as logger

from rdagent_autorl.bench.run_record import FAILURES, Failure
from rdagent_autorl.records import append_record
from rdagent_autorl.rdloop.coder import train_env, training_sandbox
from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING
from rdagent_autorl.rdloop.experiment import TrainingExperiment
from rdagent_autorl.rdloop.scenario import AutoRLScenario
from rdagent_autorl.run.training import run_training


class TrainingFailed(RunnerError):
    """Training did not produce a usable checkpoint (the outcome, with its failure class, is on the experiment)."""


class SubmissionRefused(RunnerError):
    pass


def experiment_timeout_s(scen: AutoRLScenario, loop_idx: int) -> float:
    """Share the time left between the loops still to run, keeping room to grade the checkpoint."""
    left = scen.time_left_s() - scen.grading_reserve_s()
    loops_left = max(1, scen.ctx.loop_n - loop_idx) if scen.ctx.loop_n else 1
    limit = max(30.0, left / loops_left)
    return min(limit, AUTORL_PROP_SETTING.experiment_timeout_s or limit)


class AutoRLRunner(Developer[TrainingExperiment]):
    scen: AutoRLScenario

    def develop(self, exp: TrainingExperiment) -> TrainingExperiment:
        task, ws = exp.sub_tasks[0], exp.sub_workspace_list[0]
        ctx = self.scen.ctx
        timeout = experiment_timeout_s(self.scen, exp.loop_idx)
        logger.info(f"training {task.name} (limit {timeout:.0f} s)")
        outcome = run_training(ws.script, train_env(self.scen, task, ctx.workspace / "output"),
                               log_path=ctx.logs_dir / f"{task.name}-train.log", timeout_s=timeout, gpus=ctx.gpus,
                               sandbox=training_sandbox(ctx))
        exp.outcome = outcome
        logger.log_object({
            "exit_code": outcome.exit_code if outcome.exit_code is not None else -1, "stdout": outcome.tail,
            "failure": outcome.failure, "seconds": outcome.seconds, "log_path": outcome.log_path,
            "summary": outcome.summary(), "timeout_s": round(timeout),
        }, tag="docker_run")  # the RL trace viewer's name for a run result
        if not outcome.ok:
            # $WORKSPACE/failures.jsonl: where any agent may report training failures for the report.
            append_record(ctx.workspace / FAILURES,
                          Failure(time=time.time(), kind=outcome.failure, detail=f"{task.name}: {outcome.summary()}"))
            raise TrainingFailed(f"{outcome.summary()}\nlast lines of the log ({outcome.log_path}):\n{outcome.tail[-1500:]}")
        response = httpx.post(f"{ctx.grader_url}/submit", json={"model_path": outcome.checkpoint}, timeout=None)
        if response.status_code != 200:
            raise SubmissionRefused(f"the grader refused {outcome.checkpoint} ({response.status_code}): "
                                    f"{response.json().get('detail', response.text)}")
        exp.submission = response.json()
        logger.log_object(exp.submission, tag="benchmark")
        return exp
