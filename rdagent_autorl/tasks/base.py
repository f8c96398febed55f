"""What a benchmark task is: data the agent sees, data only the grader sees, and how answers are scored.

A task is declared once, in a small module under `rdagent_autorl/tasks/`, with its assets in
`scenarios/<task-id>/`. Like Inspect AI, the pieces stay separate: loaders (dataset), the prompt
(`to_prompt`, what the policy is asked), and the scorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, Union

from pydantic import BaseModel, Field

from rdagent_autorl.settings import get_settings

LEVELS = {1: "static rule-based reward", 2: "judge-based optimization", 3: "closed-loop online RL"}

ChatMessages = list[dict[str, str]]
Prompt = Union[str, ChatMessages]  # a raw completion prompt, or chat messages for the chat template


class Sample(BaseModel):
    """One item of a task's data."""

    id: str
    prompt: str  # the question or code stub shown to the policy
    answer: str = ""  # reference answer (visible in training data, held out in evaluation)
    meta: dict[str, Any] = Field(default_factory=dict)


class ScoredSample(BaseModel):
    """One graded item, as written to the per-sample JSONL."""

    id: str
    prompt: str
    completion: str
    extracted: str | None
    correct: bool
    detail: str = ""


Scorer = Callable[[Sequence[Sample], Sequence[str]], list[ScoredSample]]
Loader = Callable[[str], list[Sample]]
# Online tasks: play the held-out samples with a generation backend (the policy) and score each one.
Rollout = Callable[[Sequence[Sample], Any], list[ScoredSample]]


class TaskError(ValueError):
    """A task id, task folder or data source that cannot be used; the message says why."""


@dataclass(frozen=True)
class Budget:
    time_s: int = 2 * 3600  # wall-clock budget of one agent run
    smoke_time_s: int = 600  # the budget of --smoke runs (tiny model, CPU)
    eval_limit: int | None = None  # held-out items used per submission (None = all)
    max_new_tokens: int = 512


@dataclass(frozen=True)
class DataSource:
    """One way to get a task's data; `check()` says whether it works on this machine, cheaply."""

    name: str
    description: str
    check: Callable[[], tuple[bool, str]] = lambda: (True, "")
    auto: bool = True  # False: used only when named (e.g. synthetic data, whose scores are not comparable)


@dataclass(frozen=True)
class TaskSpec:
    id: str
    level: int
    title: str
    default_model: str = ""
    available: bool = True  # False for reserved ids whose implementation has not landed yet
    sources: tuple[DataSource, ...] = ()
    load_train: Loader | None = None  # what agents see (copied into the workspace)
    load_eval: Loader | None = None  # held out: only the grader calls this
    scorer: Scorer | None = None
    rollout: Rollout | None = None  # online tasks: the grader plays episodes instead of one generation
    group_by: str | None = None  # a Sample.meta key: the grade is also broken down by its values
    # Extra workspace set-up (e.g. links to environment files): f(workspace, data_source).
    prepare_workspace: Callable[[Path, str], None] | None = None
    to_prompt: Callable[[Sample], Prompt] | None = None
    stop: tuple[str, ...] = ()
    budget: Budget = field(default_factory=Budget)
    exposed_files: tuple[str, ...] = ()  # relative to the assets folder, copied into workspaces
    assets: Path | None = None  # default: <scenarios>/<id>

    @property
    def assets_dir(self) -> Path:
        return self.assets or get_settings().scenarios_dir / self.id

    @property
    def description(self) -> str:
        path = self.assets_dir / "description.md"
        return path.read_text() if path.exists() else self.title

    def require_available(self) -> None:
        if not self.available:
            raise TaskError(f"task '{self.id}' is reserved but not yet available in this version")

    def resolve_source(self, source: str = "auto") -> str:
        """Pick a data source: the named one, or the first whose check passes for 'auto'."""
        names = [s.name for s in self.sources]
        if source != "auto":
            if source not in names:
                raise TaskError(f"task '{self.id}' has no data source '{source}'; choose from: {', '.join(names)}")
            return source
        reasons = []
        for s in self.sources:
            ok, why = s.check() if s.auto else (False, "only when named")
            if ok:
                return s.name
            reasons.append(f"{s.name}: {why}")
        raise TaskError(
            f"no data source of task '{self.id}' is usable here ({'; '.join(reasons)}); name one with --data"
        )

    def data_status(self) -> str:
        if not self.available:
            return "not yet available"
        parts = []
        for s in self.sources:
            ok, _ = s.check()
            parts.append(f"{s.name}:{'yes' if ok else 'no'}")
        return " ".join(parts)

    def train(self, source: str = "auto") -> list[Sample]:
        self.require_available()
        assert self.load_train is not None
        return self.load_train(self.resolve_source(source))

    def heldout(self, source: str = "auto") -> list[Sample]:
        self.require_available()
        assert self.load_eval is not None
        return self.load_eval(self.resolve_source(source))

    def score(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[ScoredSample]:
        self.require_available()
        assert self.scorer is not None
        if len(samples) != len(completions):
            raise ValueError(f"{len(samples)} samples but {len(completions)} completions")
        return self.scorer(samples, completions)

    def prompt(self, sample: Sample) -> Prompt:
        return self.to_prompt(sample) if self.to_prompt else sample.prompt


def reserved(task_id: str, level: int, title: str, default_model: str = "") -> TaskSpec:
    """A benchmark id whose implementation lands in a later version: listed, never runnable."""
    return TaskSpec(id=task_id, level=level, title=title, default_model=default_model, available=False)
