"""The task registry: the six benchmark ids, and custom task folders.

Each benchmark task is a package here (`rdagent_autorl/tasks/<id with underscores>/`) whose `TASK`
declares everything about it (see spec.py). Packages are imported only when a task is asked for, so
listing tasks stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from rdagent_autorl.tasks.spec import LEVELS, TaskSpec, reserved
from rdagent_autorl.types import Sample, ScoredSample, TaskError

# The benchmark's six ids. A task's package is `rdagent_autorl.tasks.<id with underscores>` and is found
# by that name: adding a task adds its package and nothing else. An id whose package has not landed
# yet is listed from RESERVED, never runnable.
TASK_IDS: tuple[str, ...] = ("gsm8k-rule", "humaneval-rule", "alpacaeval-judge", "alfworld-online", "webshop-online",
                             "deepsearchqa-online")
RESERVED: dict[str, tuple[int, str]] = {}  # id -> (level, title) of an id whose package has not landed


def package_of(task_id: str) -> str:
    return f"{__name__}.{task_id.replace('-', '_')}"


def get_task(task: str | Path) -> TaskSpec:
    """A benchmark task by id, or a custom task from a folder holding task.yaml."""
    key = str(task)
    if key in TASK_IDS:
        if importlib.util.find_spec(package_of(key)) is not None:
            return importlib.import_module(package_of(key)).TASK
        return reserved(key, *RESERVED[key])
    folder = Path(key).expanduser()
    if folder.is_dir():
        from rdagent_autorl.tasks.custom import load_custom_task

        return load_custom_task(folder)
    raise TaskError(f"unknown task '{key}'; valid ids: {', '.join(TASK_IDS)} (or a folder with task.yaml)")


def all_tasks() -> list[TaskSpec]:
    return [get_task(t) for t in TASK_IDS]


__all__ = ["LEVELS", "TASK_IDS", "Sample", "ScoredSample", "TaskError", "TaskSpec", "all_tasks", "get_task"]
