"""Run one training script in a workspace and say plainly how it went.

Shared by the RD-Agent loop's runner and the harness's `example` agent. The script follows the
templates' contract (DATA_PATH / BASE_MODEL / OUTPUT_DIR in, `SAVED <path>` as the last word); it
runs as a subprocess of the project's Python, in its own process group (a deadline kills all of it),
inside the sandbox it is given (run/sandbox.py; the loop gives it one: its driver LLM wrote the code),
its output streamed to a log file. No caching: training is never skipped because files look alike.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from rdagent_autorl.run.sandbox import AgentSandbox

FailureKind = Literal["crash", "timeout", "oom", "nan_loss", "no_model"]

_OOM = re.compile(r"OutOfMemoryError|CUDA out of memory|DefaultCPUAllocator: can't allocate|Killed$|MemoryError",
                  re.MULTILINE)
_METRIC = re.compile(r"'(loss|reward)': '?(-?[\d.]+(?:e-?\d+)?|nan|inf)'?")
_SAVED = re.compile(r"^SAVED (.+)$", re.MULTILINE)
TAIL_CHARS = 3000


class TrainingOutcome(BaseModel):
    ok: bool
    failure: FailureKind | None = None
    exit_code: int | None
    seconds: float
    log_path: str
    checkpoint: str | None = None
    losses: list[float] = []
    rewards: list[float] = []
    tail: str = ""  # the end of the log, for the feedback step and for people

    def summary(self) -> str:
        trend = f"loss {self.losses[0]:.4g} -> {self.losses[-1]:.4g}" if self.losses else "no loss logged"
        if self.rewards:
            trend += f", reward {self.rewards[0]:.3g} -> {self.rewards[-1]:.3g}"
        state = "ok" if self.ok else f"FAILED ({self.failure})"
        return f"training {state} in {self.seconds:.0f} s, exit {self.exit_code}, {trend}"


def metrics(log: str) -> tuple[list[float], list[float]]:
    """Loss and reward values from the trainers' `{'loss': ..., 'reward': ...}` log lines."""
    series: dict[str, list[float]] = {"loss": [], "reward": []}
    for name, value in _METRIC.findall(log):
        series[name].append(float(value))
    return series["loss"], series["reward"]


def classify(exit_code: int | None, timed_out: bool, log: str, checkpoint: Path | None) -> FailureKind | None:
    from rdagent_autorl.models.resolve import is_model_dir

    if timed_out:
        return "timeout"
    losses, _ = metrics(log)
    if any(v != v or v in (float("inf"), float("-inf")) for v in losses):
        return "nan_loss"
    if exit_code != 0:
        # The kernel's OOM killer leaves no message, only SIGKILL.
        return "oom" if _OOM.search(log) or exit_code == -signal.SIGKILL else "crash"
    if checkpoint is None or not is_model_dir(checkpoint)[0]:
        return "no_model"
    return None


def training_command(script: Path, gpus: list[str]) -> list[str]:
    if len(gpus) > 1:  # data parallel over the run's GPUs
        return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(len(gpus)), str(script)]
    return [sys.executable, str(script)]


def run_training(
    script: Path, env: dict[str, str], *, log_path: Path, timeout_s: float, gpus: list[str] | None = None,
    config_overrides: dict | None = None, dry_run: bool = False, cwd: Path | None = None,
    sandbox: AgentSandbox | None = None,
) -> TrainingOutcome:
    gpus = gpus or []
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ",".join(gpus)}
    if config_overrides:
        full_env["AUTORL_CONFIG_JSON"] = json.dumps(config_overrides)
    if dry_run:
        full_env["AUTORL_DRY_RUN"] = "1"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    timed_out = False
    cmd, full_env = (sandbox or AgentSandbox("none")).wrap(training_command(script, gpus), full_env, cwd or script.parent)
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd or script.parent, env=full_env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the deadline, and anything the script left running
            except ProcessLookupError:
                pass
            proc.wait()
    text = log_path.read_text(errors="replace")
    saved = _SAVED.findall(text)
    checkpoint = Path(saved[-1].strip()) if saved else None
    failure = classify(None if timed_out else proc.returncode, timed_out, text, checkpoint)
    losses, rewards = metrics(text)
    return TrainingOutcome(
        ok=failure is None, failure=failure, exit_code=None if timed_out else proc.returncode,
        seconds=round(time.monotonic() - start, 2), log_path=str(log_path),
        checkpoint=str(checkpoint) if checkpoint and failure is None else None,
        losses=losses, rewards=rewards, tail=text[-TAIL_CHARS:],
    )
