"""The typed files of a recorded run, as the harness (rdagent_autorl/run/harness.py) writes them and the
report, the ledger and the dashboard read them: through these models only, with
rdagent_autorl.records (write_json_atomic, read_json; read_jsonl skips a torn last line).

    <run>/record.json                 RunRecord   what the run was and how it ended
    <run>/workspace.records/scores.jsonl   Submission  (rdagent_autorl.grading.run, written by the grader)
    <run>/workspace.records/refusals.jsonl Refusal     (rdagent_autorl.grading.run) submissions the grader refused
    <run>/workspace/failures.jsonl    Failure     training failures an agent reports (README of agents/)
    <run>/workspace.records/final.json     FinalGrade  (rdagent_autorl.grading.final) the final part's grade
    <run>/snapshots/revisions.jsonl   Revision    (rdagent_autorl.bench.recorder)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rdagent_autorl.records import read_json

RECORD, FAILURES = "record.json", "failures.jsonl"


class Baseline(BaseModel):
    """The base model's score, graded before the agent's clock starts."""

    score: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None


class RunRecord(BaseModel):
    """One run of an agent on a task, from either entry point (`bench` or `rdagent autorl --task`).

    Both entry points run the same harness; `entry` says which one started the run. The loop's runs and
    `bench --agent rdagent` runs are the same agent by design (agent "rdagent", the same loop code, the
    same clock and driver naming), so the ledger pools them and `entry` tells them apart."""

    model_config = ConfigDict(extra="ignore")  # records of older versions carry a few more keys

    run_id: str
    task: str  # the task's id
    agent: str
    entry: Literal["bench", "loop"] = "bench"
    driver: str | None = None  # rdagent_autorl.run.driver_name; None for an agent without an LLM
    base_model: str
    data_source: str = "auto"
    gpus: list[str] = Field(default_factory=list)
    limit: int | None = None
    smoke: bool = False
    timeout_s: int
    start: float | None = None  # the agent's clock: set when the baseline is graded
    deadline: float | None = None
    end: float | None = None
    agent_exit: int | None = None
    killed_at_deadline: bool = False
    baseline: Baseline | None = None
    workspace: str = ""
    judge: str = ""  # judge-scored tasks: the judge's identity (FAKE-... for the offline stand-in)
    # What confined the agent (run/sandbox.py): bwrap, docker, none; "" for the loop and older records.
    sandbox: str = ""
    seed: int | None = None  # AUTORL_SEED, given to the agent (its training seed); None: the templates' own
    sweep_id: str | None = None  # a sweep's cell (rdagent_autorl/sweep): the sweep's name and the cell's key
    cell: str | None = None


class Failure(BaseModel):
    """A training failure an agent reports: one line of $WORKSPACE/failures.jsonl."""

    time: float
    kind: str | None = None  # e.g. crash, timeout, oom, nan_loss, no_model
    detail: str | None = None


def read_record(run_dir: Path) -> RunRecord:
    return read_json(Path(run_dir) / RECORD, RunRecord)
