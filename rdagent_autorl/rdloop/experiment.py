"""What one loop works on: the hypothesis (a validated training proposal), the task it becomes, the
workspace holding its code, and the experiment that carries the training outcome and the score."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from rdagent.core.experiment import Experiment, FBWorkspace, Task
from rdagent.core.proposal import Hypothesis


class TrainingProposal(BaseModel):
    """The driver LLM's answer to "what should the next experiment be?" (validated, then re-asked if invalid)."""

    model_config = {"extra": "forbid"}

    hypothesis: str = Field(min_length=1, description="One sentence: what will improve the score and why.")
    method: str = Field(min_length=1, description="Training method in words, e.g. 'SFT warm-up', 'GRPO'.")
    template: str = Field(description="Name of the template to start from (see the scenario).")
    init_from: Literal["base", "best"] = Field(
        default="base", description="'base': the task's base model; 'best': the best checkpoint scored so far.")
    config: dict[str, Any] = Field(default_factory=dict, description="Overrides of the template's CONFIG block.")
    reward_design: str = Field(default="", description="For RL templates: which rewards and weights, any edits.")
    data_plan: str = Field(default="", description="Which training rows to use and how to process them.")
    code_changes: str = Field(default="", description="Edits the coder should make beyond the config, if any.")
    rationale: str = Field(min_length=1, description="Why this should beat the best so far, given the history.")
    expected_gain: str = Field(default="", description="Expected score change, e.g. '+5 points'.")


class TrainingHypothesis(Hypothesis):
    def __init__(self, proposal: TrainingProposal) -> None:
        super().__init__(
            hypothesis=proposal.hypothesis, reason=proposal.rationale, concise_reason=proposal.expected_gain,
            concise_observation="", concise_justification=proposal.method, concise_knowledge=proposal.data_plan,
        )
        self.proposal = proposal

    def __str__(self) -> str:
        p = self.proposal
        return (f"Hypothesis: {p.hypothesis}\nMethod: {p.method} (template {p.template}, from {p.init_from})\n"
                f"Config: {p.config}\nRationale: {p.rationale}")


class TrainingTask(Task):
    """One training script to write: the proposal it implements and the loop it belongs to."""

    def __init__(self, name: str, proposal: TrainingProposal, init_model: Path) -> None:
        super().__init__(name=name, description=(
            f"{proposal.method} with template `{proposal.template}` from the {proposal.init_from} model "
            f"({init_model}); config overrides {proposal.config}. {proposal.hypothesis}"))
        self.proposal = proposal
        self.init_model = Path(init_model)


class TrainingWorkspace(FBWorkspace):
    """The code of one loop, kept under the run workspace's code/ folder (where the harness records it)."""

    def __init__(self, target_task: TrainingTask, path: Path) -> None:
        super().__init__(target_task=target_task)
        self.workspace_path = Path(path)
        self.change_summary = ""

    @property
    def script(self) -> Path:
        return self.workspace_path / "train.py"


class TrainingExperiment(Experiment[TrainingTask, TrainingWorkspace, TrainingWorkspace]):
    def __init__(self, task: TrainingTask, hypothesis: TrainingHypothesis, loop_idx: int) -> None:
        super().__init__(sub_tasks=[task], hypothesis=hypothesis)
        self.loop_idx = loop_idx
        self.outcome = None  # rdagent_autorl.run.training.TrainingOutcome, set by the runner
        self.submission: dict | None = None  # the grader's answer, set by the runner

    @property
    def score(self) -> float | None:
        return (self.submission or {}).get("score")


def history(trace) -> list[dict]:
    """One plain row per finished loop of an RD-Agent trace (for prompts and the scoreboard)."""
    rows = []
    for exp, fb in trace.hist:
        proposal = getattr(exp.hypothesis, "proposal", None)
        outcome = getattr(exp, "outcome", None)
        rows.append({
            "loop": getattr(exp, "loop_idx", None),
            "hypothesis": proposal.hypothesis if proposal else str(exp.hypothesis),
            "method": proposal.method if proposal else "",
            "template": proposal.template if proposal else "",
            "init_from": proposal.init_from if proposal else "",
            "config": proposal.config if proposal else {},
            "training": outcome.summary() if outcome else "not run",
            "failure": outcome.failure if outcome else None,
            "score": getattr(exp, "score", None),
            "ci": [exp.submission.get("ci_low"), exp.submission.get("ci_high")] if getattr(exp, "submission", None) else None,
            "checkpoint": exp.submission.get("model_path") if getattr(exp, "submission", None) else None,
            "decision": bool(fb.decision),
            "feedback": fb.reason,
        })
    return rows


def best_experiment(trace) -> TrainingExperiment | None:
    scored = [exp for exp, _ in trace.hist if getattr(exp, "score", None) is not None]
    return max(scored, key=lambda e: e.score, default=None)
