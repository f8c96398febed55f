"""The task registry: the six benchmark ids, and custom task folders.

Each benchmark task is a package here (`rdagent_autorl/tasks/<id with underscores>/`) whose `TASK`
declares everything about it (see spec.py). Packages are imported only when a task is asked for, so
listing tasks stays fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from rdagent_autorl.tasks.spec import LEVELS, TaskSpec, reserved
from rdagent_autorl.types import Sample, ScoredSample, TaskError

# id -> the package declaring `TASK`, or a reserved spec for ids whose implementation has not landed yet.
_REGISTRY: dict[str, str | TaskSpec] = {
    "gsm8k-rule": "rdagent_autorl.tasks.gsm8k_rule",
    "humaneval-rule": "rdagent_autorl.tasks.humaneval_rule",
    "alpacaeval-judge": reserved("alpacaeval-judge", 2, "AlpacaEval instruction following, LLM-judge reward"),
    "alfworld-online": "rdagent_autorl.tasks.alfworld_online",
    "webshop-online": reserved("webshop-online", 3, "WebShop product search, online RL with rollouts"),
    "deepsearchqa-online": reserved("deepsearchqa-online", 3, "Deep-search QA with tools, online RL"),
}

TASK_IDS: tuple[str, ...] = tuple(_REGISTRY)


def get_task(task: str | Path) -> TaskSpec:
    """A benchmark task by id, or a custom task from a folder holding task.yaml."""
    key = str(task)
    entry = _REGISTRY.get(key)
    if entry is None:
        folder = Path(key).expanduser()
        if folder.is_dir():
            from rdagent_autorl.tasks.custom import load_custom_task

            return load_custom_task(folder)
        raise TaskError(f"unknown task '{key}'; valid ids: {', '.join(TASK_IDS)} (or a folder with task.yaml)")
    if isinstance(entry, TaskSpec):
        return entry
    return importlib.import_module(entry).TASK


def all_tasks() -> list[TaskSpec]:
    return [get_task(t) for t in TASK_IDS]


__all__ = ["LEVELS", "TASK_IDS", "Sample", "ScoredSample", "TaskError", "TaskSpec", "all_tasks", "get_task"]
