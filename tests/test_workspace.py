"""The run workspace agents get: training split only, the task text, instructions, a base-model link."""

from __future__ import annotations

import json

from rdagent_autorl.run.workspace import agent_env, create_workspace
from rdagent_autorl.tasks import get_task


def test_workspace_holds_the_training_split_and_never_the_held_out_one(tiny_model, tmp_path):
    task = get_task("gsm8k-rule")
    run = create_workspace(tmp_path / "ws", task, "gsm8k-rule", tiny_model, data_source="synthetic",
                           grader_url="http://127.0.0.1:9")
    ws = run.workspace
    rows = [json.loads(line) for line in (ws / "data" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == len(task.train("synthetic")) and rows[0]["prompt"] == task.prompt(task.train("synthetic")[0])

    everything = "".join(p.read_text(errors="ignore") for p in ws.rglob("*") if p.is_file() and "base_model" not in p.parts)
    assert not [s.prompt for s in task.heldout("synthetic") if s.prompt in everything]

    assert (ws / "base_model").resolve() == tiny_model.resolve()
    assert (ws / "code").is_dir() and (ws / "output").is_dir()
    assert "gsm8k-rule" in (ws / "description.md").read_text()
    instructions = (ws / "instructions.md").read_text()
    assert "http://127.0.0.1:9/submit" in instructions and str(run.output_dir) in instructions
    assert json.loads((ws / "run_meta.json").read_text())["data_source"] == "synthetic"

    env = agent_env(run.workspace, run.task, "http://127.0.0.1:9")
    assert set(env) == {"TASK", "TASK_REWARD", "BASE_MODEL", "MODEL_PATH", "DATA_PATH", "OUTPUT_DIR",
                        "GRADING_SERVER_URL", "WORKSPACE"}
    assert env["TASK"] == "gsm8k-rule" and env["OUTPUT_DIR"] == str(ws / "output")
    assert env["TASK_REWARD"] == "math"  # the reward the task declares, for its GRPO template


def test_humaneval_workspace_rows_carry_the_task_extras(tiny_model, tmp_path):
    run = create_workspace(tmp_path / "ws", get_task("humaneval-rule"), "humaneval-rule", tiny_model)
    rows = [json.loads(line) for line in (run.workspace / "data" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 82 and {"test", "entry_point"} <= set(rows[0]) and isinstance(rows[0]["prompt"], str)
    assert rows[-1]["id"] == "HumanEval/81"


def test_a_custom_task_workspace_holds_its_public_files_and_the_agent_is_pointed_at_them(tiny_model, tmp_path,
                                                                                           math_task_dir):
    """The original folder holds the held-out file and is outside an agent sandbox: the workspace gets task.yaml
    and the training file in task/ (never eval.jsonl), the agent's run_meta.json names that copy, which loads as
    the same task; the grader's own record keeps the original."""
    from rdagent_autorl.grading.run import RUN_META, records_dir_for

    task = get_task(str(math_task_dir))
    run = create_workspace(tmp_path / "ws", task, str(math_task_dir), tiny_model, grader_url="http://127.0.0.1:9")
    public = run.workspace / "task"
    assert sorted(p.name for p in public.iterdir()) == ["task.yaml", "train.jsonl"]
    assert json.loads((run.workspace / RUN_META).read_text())["task"] == str(public)
    assert json.loads((records_dir_for(run.workspace) / RUN_META).read_text())["task"] == str(math_task_dir.resolve())
    seen = get_task(str(public))
    assert (seen.id, seen.templates, seen.require_smoke().example) == (task.id, task.templates, task.require_smoke().example)
    assert [s.prompt for s in seen.train("folder")] == [s.prompt for s in task.train("folder")]
