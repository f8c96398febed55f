"""The vocabulary every layer shares: prompts, samples, graded samples, and the task error.

This module sits at the bottom of the package (next to settings and records): scorers, solvers,
generation backends and tasks all speak it, and it imports nothing of the package.
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, Field, model_validator

ChatMessages = list[dict[str, str]]
Prompt = Union[str, ChatMessages]  # a raw completion prompt, or chat messages for the chat template


class TaskError(ValueError):
    """A task id, task folder or data source that cannot be used; the message says why."""


class Sample(BaseModel):
    """One item of a task's data."""

    id: str
    prompt: str  # the question, code stub, instruction or goal shown to the policy
    answer: str = ""  # reference answer (visible in training data, held out in evaluation)
    meta: dict[str, Any] = Field(default_factory=dict)


class ScoredSample(BaseModel):
    """One graded item, as written to the per-sample JSONL.

    `value` in [0, 1] is what the headline score averages: 1/0 for a right/wrong answer, a judge's
    preference (0.5 for a tie), an environment's reward, an F1. `correct` is derived where a sample is
    simply right or wrong (value 0 or 1); `metrics` holds whatever else the scorer reports per sample
    (e.g. precision and recall next to an F1), averaged into the grade's extra metrics."""

    id: str
    prompt: str
    completion: str
    extracted: str | None = None
    value: float = Field(ge=0.0, le=1.0)
    correct: bool | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    detail: str = ""

    @model_validator(mode="after")
    def _derive_correct(self) -> "ScoredSample":
        if self.correct is None and self.value in (0.0, 1.0):
            self.correct = self.value == 1.0
        return self

    @classmethod
    def graded(cls, ok: bool, **fields) -> "ScoredSample":
        """A right-or-wrong sample: value 1.0 or 0.0."""
        return cls(value=1.0 if ok else 0.0, correct=bool(ok), **fields)
