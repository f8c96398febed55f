"""Settings of the loop and the context of the run it works in.

RD-Agent's `RDLoop` builds its components from import strings and calls `scen()` with no
arguments, so what a run is about (task, workspace, grader URL, deadline) cannot be passed in: the
session stores it here with `set_run_context` before the loop is built, and the scenario copies it
(the copy is pickled with the loop, so a resumed run knows its context).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict
from rdagent.components.workflow.conf import BasePropSetting


class AutoRLPropSetting(BasePropSetting):
    model_config = SettingsConfigDict(env_prefix="AUTORL_LOOP_", protected_namespaces=(), extra="ignore")

    scen: str = "rdagent_autorl.rdloop.scenario.AutoRLScenario"
    hypothesis_gen: str = "rdagent_autorl.rdloop.proposal.AutoRLExpGen"
    coder: str = "rdagent_autorl.rdloop.coder.AutoRLCoder"
    runner: str = "rdagent_autorl.rdloop.runner.AutoRLRunner"
    summarizer: str = "rdagent_autorl.rdloop.feedback.AutoRLFeedback"

    driver_max_tries: int = Field(default=3, ge=1, description="Answers asked for before an invalid one is fatal.")
    coder_max_rounds: int = Field(default=3, ge=1, description="Coder rounds: the first version plus repairs.")
    dry_run_timeout_s: int = Field(default=300, ge=10, description="Limit of the coder's dry run of a script.")
    experiment_timeout_s: int | None = Field(default=None, ge=1, description="Cap on one training run.")
    min_loop_s: int = Field(default=60, ge=0, description="A new loop starts only with this much time left.")


class RunContext(BaseModel):
    """One run of the loop: where it lives and what it works on (saved as <run>/run.json)."""

    task: str  # the task id, or a custom task folder
    task_id: str
    level: int
    run_dir: Path
    workspace: Path
    base_model: Path
    data_source: str
    gpus: list[str] = []
    smoke: bool = False
    driver: str  # "scripted" or the chat model's name (never a key)
    grader_url: str = ""
    deadline: float  # wall-clock time (time.time()) at which the budget is used
    timeout_s: int
    loop_n: int | None = None

    @property
    def trace_dir(self) -> Path:
        return self.run_dir / "trace"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"


_CONTEXT: RunContext | None = None


def set_run_context(ctx: RunContext) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def run_context() -> RunContext:
    if _CONTEXT is None:
        raise RuntimeError("no autorl run is set up: start the loop with `rdagent autorl --task ...`")
    return _CONTEXT


AUTORL_PROP_SETTING = AutoRLPropSetting()
