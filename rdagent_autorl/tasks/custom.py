"""Custom tasks: `--task path/to/dir` with a `task.yaml` and question/answer JSONL files.

The folder is auto-discovered like the upstream benchmark's task folders:

    my-task/
      task.yaml        # id, title, scorer: math|exact, optional prompt settings
      train.jsonl      # {"question": ..., "answer": ...} per line, visible to agents
      eval.jsonl       # same format, held out: only the grader reads it
      description.md   # optional, shown to agents
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rdagent_autorl.tasks.base import Budget, DataSource, Sample, TaskError, TaskSpec


class CustomTaskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    level: Literal[1, 2, 3] = 1
    scorer: Literal["math", "exact"]
    train_file: str = "train.jsonl"
    eval_file: str = "eval.jsonl"
    prompt_style: Literal["chat", "completion"] = "chat"
    system_prompt: str = ""
    default_model: str = ""
    max_new_tokens: int = Field(default=256, ge=1)
    time_budget_s: int = Field(default=3600, ge=60)


def _read_jsonl(path: Path, task_id: str) -> list[Sample]:
    if not path.exists():
        raise TaskError(f"custom task '{task_id}': data file {path} does not exist")
    samples = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            samples.append(Sample(id=f"{task_id}-{path.stem}-{n}", prompt=str(row["question"]), answer=str(row["answer"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise TaskError(f"{path}:{n}: expected a JSON object with 'question' and 'answer' ({exc})") from exc
    return samples


def load_custom_task(folder: Path) -> TaskSpec:
    spec_file = folder / "task.yaml"
    if not spec_file.exists():
        raise TaskError(f"{folder} is not a task folder: it has no task.yaml")
    try:
        cfg = CustomTaskConfig.model_validate(yaml.safe_load(spec_file.read_text()) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise TaskError(f"{spec_file} is not a valid task description:\n{exc}") from exc

    if cfg.scorer == "math":
        from rdagent_autorl.scoring.math_answer import score_math as scorer
    else:
        from rdagent_autorl.scoring.exact_match import score_exact as scorer

    def to_prompt(sample: Sample):
        if cfg.prompt_style == "completion":
            return sample.prompt
        system = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
        return system + [{"role": "user", "content": sample.prompt}]

    return TaskSpec(
        id=cfg.id,
        level=cfg.level,
        title=cfg.title,
        default_model=cfg.default_model,
        sources=(DataSource("folder", str(folder)),),
        load_train=lambda _: _read_jsonl(folder / cfg.train_file, cfg.id),
        load_eval=lambda _: _read_jsonl(folder / cfg.eval_file, cfg.id),
        scorer=scorer,
        to_prompt=to_prompt,
        budget=Budget(time_s=cfg.time_budget_s, max_new_tokens=cfg.max_new_tokens),
        exposed_files=("description.md",) if (folder / "description.md").exists() else (),
        assets=folder,
    )
