"""The online templates on webshop-online's environment, unchanged: they reach it only through $TASK_ENV.

Rows are the smoke source's training goals laid out as a workspace has them (data/train.jsonl naming
data/catalogue.json); the templates run as subprocesses on the tiny model, CPU only, in AUTORL_DRY_RUN mode.
"""

from __future__ import annotations

import ast
import json
import re

import pytest
from test_templates import assert_full_checkpoint, run_template, saved_path

from rdagent_autorl.run.workspace import training_rows
from rdagent_autorl.tasks import get_task

TASK = get_task("webshop-online")


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory):
    data = tmp_path_factory.mktemp("webshop-data")
    rows = training_rows(TASK, "smoke")
    (data / "catalogue.json").symlink_to(TASK.heldout("smoke")[0].meta["catalogue"])
    path = data / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(autouse=True)
def _task_env(monkeypatch):
    monkeypatch.setenv("TASK_ENV", "rdagent_autorl.tasks.webshop_online.env")  # by hand: a module name


def test_sft_trajectories_dry_run_on_the_oracles_episodes(rows_file, tiny_model, tmp_path):
    """Three goals, each the oracle's episode (reward 1) plus one copy with wrong items opened first."""
    proc = run_template("sft_trajectories.py", data_path=rows_file, base=tiny_model, out=tmp_path / "output",
                        config={"search_copies": 1, "collect_workers": 1})
    found = re.search(r"^TRAJECTORIES games=3 won=3 steps=(\d+) searches=(\d) detour_steps=(\d+) rows=(\d+)$",
                      proc.stdout, re.M)
    assert found, proc.stdout[-2000:]
    steps, searches, detours, rows = map(int, found.groups())
    assert 12 <= steps <= 3 * 8 and searches >= 1 and detours >= 2 * searches and rows == 3 + searches
    assert "'loss'" in proc.stdout and "SKIPPED" not in proc.stdout
    assert_full_checkpoint(saved_path(proc), tiny_model)


@pytest.mark.slow  # ~40 s: the template imports torch and TRL before it checks
def test_renamed_copies_are_refused_where_the_environment_has_none(rows_file, tiny_model, tmp_path):
    proc = run_template("sft_trajectories.py", data_path=rows_file, base=tiny_model, out=tmp_path / "output",
                        config={"renamed_copies": 1}, expect_ok=False)
    assert proc.returncode != 0 and "offers no renamed_copies()" in proc.stderr


@pytest.mark.slow  # ~1-2 min on 2 cores; alfworld's GRPO dry run covers the template in the default suite
def test_grpo_online_dry_run_plays_webshop_sessions(rows_file, tiny_model, tmp_path):
    """2 steps x (2 goals x 2 sessions of at most 3 actions); the tiny model never buys: reward 0."""
    proc = run_template("grpo_online.py", data_path=rows_file, base=tiny_model, out=tmp_path / "output")
    rollouts = re.findall(r"^ROLLOUT step=(\d+) games=(\d+) episodes=(\d+) won=(\d+) .* mean_reward=([\d.]+)$",
                          proc.stdout, re.M)
    assert [r[:4] for r in rollouts] == [("0", "2", "4", "0"), ("1", "2", "4", "0")], proc.stdout[-2000:]
    logs = [ast.literal_eval(line) for line in proc.stdout.splitlines() if line.startswith("{'loss'")]
    assert len(logs) == 2 and all(float(log["rewards/episode_reward/mean"]) == 0.0 for log in logs)
    assert_full_checkpoint(saved_path(proc), tiny_model, trained=False)
