"""What the commands share: clear errors, task and model lookup, and the defaults of a run (the task's
own settings, or its declared smoke settings with --smoke). Light: imported on the CLI's fast paths."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, NoReturn, Optional

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def load_task(task: str):
    from rdagent_autorl.tasks import TaskError, get_task

    try:
        spec = get_task(task)
        spec.require_available()
        return spec
    except TaskError as exc:
        fail(str(exc))


def load_model(model: str) -> Path:
    from rdagent_autorl.models.resolve import ModelError, resolve_model

    try:
        return resolve_model(model)
    except ModelError as exc:
        fail(str(exc))


def visible_gpus() -> list[str]:
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    except Exception:  # no usable CUDA: train on CPU
        return []


class RunDefaults(NamedTuple):
    model: str
    data: str
    timeout_s: int
    gpus: list[str]
    loop_n: int | None


def run_defaults(spec, *, smoke: bool, model: Optional[str], data: Optional[str], timeout: Optional[str],
                 gpus: Optional[str], loop_n: Optional[int] = None) -> RunDefaults:
    """The options of a run where the user gave none: the task's (`--smoke`: its smoke settings, CPU).
    Raises TaskError for --smoke on a task without smoke settings, RunError for an unreadable --timeout."""
    from rdagent_autorl.run.harness import parse_duration

    spec.require_available()  # a reserved id says so before anything about its settings
    small = spec.require_smoke() if smoke else None
    timeout_s = parse_duration(timeout or str(small.time_s if small else spec.budget.time_s))
    gpu_list = [g.strip() for g in gpus.split(",") if g.strip()] if gpus is not None else ([] if smoke else visible_gpus())
    return RunDefaults(model=model or (small.model if small else spec.default_model),
                       data=data or (small.data if small else "auto"), timeout_s=timeout_s, gpus=gpu_list,
                       loop_n=loop_n or (small.loop_n if small else None))
