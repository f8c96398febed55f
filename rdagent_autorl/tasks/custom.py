"""Custom tasks: `--task path/to/dir` with a `task.yaml` and question/answer JSONL files.

The folder is auto-discovered like the upstream benchmark's task folders:

    my-task/
      task.yaml        # id, title, scorer: math|exact, optional prompt settings and templates
      train.jsonl      # {"question": ..., "answer": ...} per line, visible to agents
      eval.jsonl       # same format, held out: only the grader reads it
      description.md   # optional, shown to agents

An agent's workspace gets the folder's public files in `task/` (AGENT_COPY: task.yaml, the training file,
description.md; never the held-out file), and its copy of run_meta.json names that folder: a sandboxed
agent cannot see the original, and has no business reading its eval file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rdagent_autorl.tasks.rule_recipes import EXAMPLE_CONFIG, PLAN_CONFIG
from rdagent_autorl.tasks.spec import Budget, DataSource, ExampleStep, Smoke, TaskSpec, completion_scorer
from rdagent_autorl.types import Sample, TaskError

AGENT_COPY = "task"  # <workspace>/task/: a custom task's public files, for the agent


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
    version: int = Field(default=1, ge=1)  # bump when the prompt or the data's meaning changes
    # The first `selection_size` eval rows are what submissions are scored on; the rest are the final part,
    # graded once at the end of a run (grading/final.py). Unset: no final part.
    selection_size: int | None = Field(default=None, ge=1)
    # Training templates offered (names in templates/); they must fit question/answer rows.
    templates: list[str] = Field(default_factory=lambda: ["sft", "grpo_rule"], min_length=1)
    smoke_time_s: int = Field(default=600, ge=60)


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
        from rdagent_autorl.scoring import math_answer as scoring

        rule = scoring.score_math
    else:
        from rdagent_autorl.scoring import exact_match as scoring

        rule = scoring.score_exact
    _check_templates(cfg, spec_file)

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
        sources=(DataSource("folder", str(folder), selection_size=cfg.selection_size),),
        load_train=lambda _: _read_jsonl(folder / cfg.train_file, cfg.id),
        load_eval=lambda _: _read_jsonl(folder / cfg.eval_file, cfg.id),
        scorer=completion_scorer(rule),
        to_prompt=to_prompt,
        budget=Budget(time_s=cfg.time_budget_s, max_new_tokens=cfg.max_new_tokens),
        version=cfg.version,
        templates=tuple(cfg.templates),
        reward=cfg.scorer,  # the GRPO reward of the same name checks answers as the scorer does
        smoke=Smoke(data="folder", time_s=cfg.smoke_time_s, plan=_smoke_plan(cfg.templates),
                    example=(ExampleStep(cfg.templates[-1], "v1", EXAMPLE_CONFIG.get(cfg.templates[-1], {})),)),
        protocol_files=(spec_file, Path(scoring.__file__)),
        prepare_workspace=lambda ws, _source: _copy_public_files(folder, cfg, Path(ws) / AGENT_COPY),
        assets=folder,
    )


def _copy_public_files(folder: Path, cfg: CustomTaskConfig, dest: Path) -> None:
    """task.yaml, the training file and description.md, at the same relative paths; never the eval file."""
    for name in ("task.yaml", cfg.train_file, "description.md"):
        if (folder / name).is_file() and name != cfg.eval_file:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, dest / name)


def _check_templates(cfg: CustomTaskConfig, spec_file: Path) -> None:
    from rdagent_autorl.settings import get_settings

    missing = [t for t in cfg.templates if not (get_settings().templates_dir / f"{t}.py").exists()]
    if missing:
        raise TaskError(f"{spec_file}: unknown templates {missing}; see templates/README.md for the ones there are")


def _smoke_plan(templates: list[str]) -> tuple[dict, ...]:
    """The scripted driver's plan for a custom task: each offered template once (the rule templates with
    their shared smoke settings, others with their defaults), the first from the base model, the others
    from the best checkpoint so far."""
    return tuple({"hypothesis": f"Training with the {name} template improves the held-out score.",
                  "method": name, "template": name, "init_from": "base" if i == 0 else "best",
                  "config": PLAN_CONFIG.get(name, {}),
                  "rationale": "a custom task's smoke plan: each offered template once", "expected_gain": "unknown"}
                 for i, name in enumerate(templates))
