"""The isolated workspace every agent gets (RD-Agent's loop, a CLI coding agent, a baseline script).

    <workspace>/
      description.md     the task, as agents see it
      instructions.md    how to submit, the budget, the rules
      data/train.jsonl   the training split only (the DATA_PATH contract below)
      base_model         the base checkpoint (a link: never write into it; the links the harness makes
                         here are recorded when it lays the workspace out, and only their targets are
                         visible inside the agent sandbox)
      code/              the agent's code
      output/            checkpoints; the grader accepts nothing from elsewhere
      run_meta.json, scores.jsonl, refusals.jsonl   written by the grader (copies: the grader trusts
                         only its own, beside the workspace, and never reads these back)

DATA_PATH rows: {"id", "prompt" (chat messages or a plain string, exactly as the grader will ask),
"answer" (the reference), ...task extras such as "test" and "entry_point" for HumanEval}. Online
tasks add their environment (ALFWorld: data/games and env/, see the task's description.md).
The held-out split is read by the grader alone and is never written here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rdagent_autorl.grading.run import GradingRun
from rdagent_autorl.run.sandbox import record_workspace_links
from rdagent_autorl.tasks import TaskSpec

INSTRUCTIONS = """# Instructions

You are post-training the base model for the task in `description.md`.

- Base model: `{base_model}` (read-only; load it, never write into it).
- Training data: `{data_path}` (JSONL; `prompt` is exactly what the grader will ask).
- Write your code under `{code_dir}` and save checkpoints (full model + tokenizer, HF format) under
  `{output_dir}/<version>`.
- Submit a checkpoint: `curl -s -X POST {grader_url}/submit -H 'content-type: application/json'
  -d '{{"model_path": "{output_dir}/v1"}}'`. The answer holds your score, its 95% interval, the
  baseline and the best so far. Submit as often as you like; every submission is recorded.
- Scores are on the held-out split's selection part. When the run ends, one checkpoint is graded
  once more, on a final part no submission was scored on, and that final score is the run's score:
  the one you declare with `"final": true` in the submission's JSON, else the first with your best
  selection score.
- Time: {timeout_s} s from the start; `GET {grader_url}/time` tells what is left. Submissions after
  the deadline are refused.
- Rules: the held-out evaluation data is not available to you; do not try to obtain it. Submitting
  the unchanged base model is flagged; so are held-out items in your files (the report checks), a copy
  of another checkpoint, and a model other than the base model.
"""


def training_rows(task: TaskSpec, source: str) -> list[dict]:
    return [{"id": s.id, "prompt": task.prompt(s), "answer": s.answer, **s.meta} for s in task.train(source)]


def create_workspace(
    workspace: Path, task: TaskSpec, task_arg: str, base_model: Path, *, data_source: str = "auto",
    backend: str = "hf", limit: int | None = None, gpus: list[str] | None = None, timeout_s: int | None = None,
    grader_url: str = "",
) -> GradingRun:
    """Lay out (or reopen) a run workspace and its grading state."""
    source = task.resolve_source(data_source)
    run = GradingRun.open(workspace, task=task_arg, base_model=str(base_model), data_source=source, backend=backend,
                          limit=limit, gpus=gpus or [], timeout_s=timeout_s or task.budget.time_s)
    ws = run.workspace
    for folder in ("code", "data"):
        (ws / folder).mkdir(exist_ok=True)
    data_path = ws / "data" / "train.jsonl"
    if not data_path.exists():
        tmp = data_path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(row) + "\n" for row in training_rows(task, source)))
        tmp.replace(data_path)
    link = ws / "base_model"
    if not link.exists():
        link.symlink_to(Path(base_model).resolve(), target_is_directory=True)
    (ws / "description.md").write_text(task.description)
    if task.env_files:  # online tasks: a copy of the environment interface the grader plays with
        (ws / "env").mkdir(exist_ok=True)
        for name, src in task.env_files.items():
            shutil.copy2(src, ws / "env" / name)
    if task.prepare_workspace:
        task.prepare_workspace(ws, source)
        run.save_meta()  # the agent's copy may name what it laid out (a custom task's public copy)
    (ws / "instructions.md").write_text(INSTRUCTIONS.format(
        base_model=link, data_path=data_path, code_dir=ws / "code", output_dir=run.output_dir,
        grader_url=grader_url or "$GRADING_SERVER_URL", timeout_s=run.meta.timeout_s))
    record_workspace_links(ws, run.records_dir)  # what the agent sandbox mounts read-only (run/sandbox.py)
    return run


def agent_env(workspace: Path, task: TaskSpec, grader_url: str) -> dict[str, str]:
    """The documented environment of an agent process. TASK_REWARD names the rule reward the task's
    GRPO template trains on (templates/rewards.py); empty for tasks whose reward is the environment's.
    Online tasks add TASK_ENV: the workspace's copy of the environment module the online templates play
    (env/<its env_module>)."""
    ws = Path(workspace)
    env = {"TASK": task.id, "TASK_REWARD": task.reward or "", "BASE_MODEL": str(ws / "base_model"),
           "MODEL_PATH": str(ws / "base_model"),
           "DATA_PATH": str(ws / "data" / "train.jsonl"), "OUTPUT_DIR": str(ws / "output"),
           "GRADING_SERVER_URL": grader_url, "WORKSPACE": str(ws)}
    if task.env_module:
        env["TASK_ENV"] = str(ws / "env" / task.env_module)
    if task.uses_judge:
        env.update(judge_env())
    return env


def judge_env() -> dict[str, str]:
    """The settings as the grader resolved them from its environment and .env (AUTORL_JUDGE_*, the task's
    own such as the annotator, the cache folder): a judge-reward template in an agent's workspace (another
    folder, no .env) then asks the grader's judge the grader's way and shares its reply cache. Only the
    settings that differ from their defaults, never the policy endpoint's key (the agent has no use for
    it); the judge's key travels in the process environment and is never written to the workspace."""
    from rdagent_autorl.settings import get_settings

    s = get_settings()
    out = {f"AUTORL_{name.upper()}": str(value) for name, value in s.model_dump(exclude_defaults=True).items()
           if value is not None and name != "openai_api_key"}
    out["AUTORL_CACHE_DIR"] = str(s.cache_path)
    return out
