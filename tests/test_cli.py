"""The command line as a user runs it: `rdagent autorl`, `rdagent-autorl`, `python -m rdagent_autorl`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def cli(*args, entry=("rdagent", "autorl"), timeout=600):
    cmd = [str(BIN / entry[0]), *entry[1:], *args] if entry[0] != "python" else [sys.executable, "-m", "rdagent_autorl", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def test_rdagent_lists_its_own_commands_and_autorl():
    out = cli("--help", entry=("rdagent",))
    assert out.returncode == 0, out.stderr
    for command in ("autorl", "data_science", "fin_factor", "llm_finetune", "health_check", "collect_info"):
        assert command in out.stdout


@pytest.mark.parametrize("entry", [("rdagent", "autorl"), ("rdagent-autorl",), ("python",)])
def test_tasks_from_every_entry_point(entry):
    out = cli("tasks", "--json", entry=entry)
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert len(rows) == 6 and rows["gsm8k-rule"]["data"] == "local:no hub:no synthetic:yes smoke:yes"
    assert all(r["data"] != "not yet available" for r in rows.values())  # all six have landed


def test_tasks_table():
    out = cli("tasks")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "LEVEL", "DATA", "DEFAULT_MODEL"] and len(lines) == 7


def test_unknown_task_is_one_line_and_exit_2():
    out = cli("grade", "--task", "gsm9k", "--model", "tiny")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "gsm8k-rule" in out.stderr and "gsm9k" in out.stderr


def test_an_unknown_data_source_is_refused():
    out = cli("grade", "--task", "alpacaeval-judge", "--model", "tiny", "--data", "nope")
    assert out.returncode == 2 and "no data source 'nope'" in out.stderr


def test_missing_model_path_is_a_clear_error(tmp_path):
    out = cli("grade", "--task", "gsm8k-rule", "--data", "synthetic", "--model", str(tmp_path / "nope"))
    assert out.returncode == 2 and "nope" in out.stderr and "Traceback" not in out.stderr


def test_hub_id_offline_not_cached():
    out = cli("grade", "--task", "gsm8k-rule", "--data", "synthetic", "--model", "Qwen/Qwen2.5-0.5B-Instruct")
    assert out.returncode == 2 and "Qwen/Qwen2.5-0.5B-Instruct" in out.stderr and "Traceback" not in out.stderr


def test_gsm8k_offline_without_data_flag_says_what_to_do(tiny_model):
    out = cli("grade", "--task", "gsm8k-rule", "--model", str(tiny_model))
    assert out.returncode == 2 and "--data" in out.stderr


def test_grade_prints_one_json_object(tiny_model, tmp_path):
    out = cli("grade", "--task", "gsm8k-rule", "--model", "tiny", "--data", "synthetic", "--limit", "4", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n"] == 4 and result["data_source"] == "synthetic" and 0 <= result["score"] <= 100
    assert result["ci_low"] <= result["score"] <= result["ci_high"] and "total_s" in result["timing"]
    assert Path(result["samples_path"]).parent == tmp_path and len(Path(result["samples_path"]).read_text().splitlines()) == 4


def test_bad_backend_and_data_source(tiny_model):
    assert "choose from" in cli("grade", "--task", "gsm8k-rule", "--model", "tiny", "--backend", "tgi").stderr
    out = cli("grade", "--task", "gsm8k-rule", "--model", "tiny", "--data", "kaggle")
    assert out.returncode == 2 and "no data source 'kaggle'" in out.stderr


def test_model_tiny_prints_the_cached_checkpoint(tiny_model):
    out = cli("model", "tiny")
    assert out.returncode == 0 and Path(out.stdout.strip()) == tiny_model


def test_a_checkpoint_that_does_not_load_is_a_clear_error(tiny_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    out = cli("grade", "--task", "gsm8k-rule", "--data", "synthetic", "--limit", "2", "--model", str(broken))
    assert out.returncode == 1 and "evaluating" in out.stderr and "Traceback" not in out.stderr
