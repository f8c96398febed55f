"""A recorded run as the report and its figures read it: every file through its model (a torn or
invalid line is skipped, never fatal, so a run that crashed mid-write still gets a report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdagent_autorl.bench.recorder import Revision, read_revisions
from rdagent_autorl.bench.run_record import FAILURES, Failure, RunRecord, read_record
from rdagent_autorl.grading.final import FinalGrade, read_final
from rdagent_autorl.grading.run import REFUSALS, SCORES, Refusal, Submission, records_dir_for
from rdagent_autorl.records import read_jsonl


def is_valid(sub: Submission) -> bool:
    return sub.status == "scored" and sub.score is not None


@dataclass
class RunData:
    run_dir: Path
    record: RunRecord
    submissions: list[Submission]
    revisions: list[Revision]
    failures: list[Failure]
    refusals: list[Refusal]  # submissions the grader refused (path outside output/, after the deadline, ...)
    start: float
    deadline: float
    baseline: float | None
    final: FinalGrade | None = None  # the chosen checkpoint on the held-out final part (grading/final.py)

    def minutes(self, obj: Submission | Revision | Failure | Refusal) -> float:
        return (float(obj.time) - self.start) / 60


def load_run(run_dir: Path) -> RunData:
    run_dir = Path(run_dir)
    rec = read_record(run_dir)
    ws = run_dir / "workspace"
    graded = records_dir_for(ws)  # the grader's own records, never the agent's copies in the workspace
    if not graded.exists() and (ws / SCORES).exists():
        graded = ws  # a run recorded before the grader kept its own records: its workspace files are all there is
    subs = read_jsonl(graded / SCORES, Submission)
    start = float(rec.start or 0.0)
    deadline = float(rec.deadline) if rec.deadline is not None else start + float(rec.timeout_s or 0)
    # A record without a baseline (measured after the record was written) still has it on every scored line.
    baseline = rec.baseline.score if rec.baseline else None
    if baseline is None:
        baseline = next((s.baseline_score for s in subs if s.baseline_score is not None), None)
    return RunData(run_dir, rec, subs, read_revisions(run_dir / "snapshots"),
                   # Agents report training failures in their workspace; older runs kept them beside it.
                   read_jsonl(ws / FAILURES, Failure) + read_jsonl(run_dir / FAILURES, Failure),
                   read_jsonl(graded / REFUSALS, Refusal), start, deadline, None if baseline is None else float(baseline),
                   read_final(graded))
