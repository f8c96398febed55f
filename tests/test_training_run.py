"""Running a training script: every failure class is named, and a good run's checkpoint is gradable."""

from __future__ import annotations

import uuid
from pathlib import Path

import psutil
import pytest

from rdagent_autorl.run.training import metrics, run_training
from rdagent_autorl.run.workspace import agent_env, create_workspace
from rdagent_autorl.tasks import get_task

ROOT = Path(__file__).resolve().parent.parent


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"train_{uuid.uuid4().hex[:8]}.py"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    "body, failure",
    [
        ("raise RuntimeError('bad reward function')\n", "crash"),
        ("print('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB')\nraise SystemExit(1)\n", "oom"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "oom"),
        ("print({'loss': 2.5})\nprint({'loss': float('nan')})\nprint('SAVED /nowhere')\n", "nan_loss"),
        ("print({'loss': 1.0})\n", "no_model"),
        ("print('SAVED /definitely/not/a/model')\n", "no_model"),
    ],
)
def test_failures_are_classified(tmp_path, body, failure):
    outcome = run_training(_script(tmp_path, body), {}, log_path=tmp_path / "train.log", timeout_s=60)
    assert not outcome.ok and outcome.failure == failure and outcome.checkpoint is None
    assert Path(outcome.log_path).exists() and "FAILED" in outcome.summary()


def test_deadline_kills_the_whole_process_group(tmp_path):
    marker = uuid.uuid4().hex
    # A grandchild that carries the marker in its command line, so a survivor would be found.
    body = ("import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\n"
            "time.sleep(300)\n")
    outcome = run_training(_script(tmp_path, body), {}, log_path=tmp_path / "train.log", timeout_s=3)
    assert outcome.failure == "timeout" and outcome.exit_code is None and outcome.seconds < 30
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []


def test_metrics_from_trainer_logs():
    log = "{'loss': 2.5, 'grad_norm': 1.0}\n{'loss': '1.25e-1', 'reward': 0.5}\n{'reward': -0.25}\n"
    assert metrics(log) == ([2.5, 0.125], [0.5, -0.25])


def test_sft_template_dry_run_is_graded(tiny_model, tmp_path):
    task = get_task("gsm8k-rule")
    run = create_workspace(tmp_path / "ws", task, "gsm8k-rule", tiny_model, data_source="synthetic", limit=4)
    outcome = run_training(ROOT / "templates" / "sft.py", agent_env(run.workspace, run.task, ""),
                           log_path=run.workspace / "train.log",
                           timeout_s=300, dry_run=True, config_overrides={"version": "v7"})
    assert outcome.ok, outcome.tail
    assert outcome.checkpoint == str(run.output_dir / "v7") and outcome.losses
    submission = run.submit(outcome.checkpoint)
    assert submission.status == "scored" and submission.n == 4 and not submission.copied_base_model
