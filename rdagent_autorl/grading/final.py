"""The run's final score: its chosen checkpoint graded once on the held-out split's final part.

Submissions are scored on the selection part only: that is the feedback an agent gets and picks its
checkpoints by, so the best of many selection scores overstates what the agent's training achieved
(the more submissions, the more). When the run ends, the harness grades one checkpoint, the one the
agent declared final (`POST /submit {"final": true}`) or else the first with the best selection score,
on the final part, which no submission was ever scored on, and the base model beside it. That is the
run's score in the report and on the leaderboard, next to the selection score.

The checkpoint graded is the grader's kept snapshot of the submission (run.py keeps the current
candidate's), checked against the submission's content hash, so it is the bytes the selection score
was given, whatever output/ holds by then. A resumed run's checkpoint, graded at its first end, is
answered from the grade cache. A
source that declares no final part (DataSource.selection_size is None) gets no final score, said so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

from rdagent_autorl.grading.evaluate import EvalResult, cached_result, make_config, model_key
from rdagent_autorl.grading.run import FINAL_CANDIDATES, GRADER_LOG, GradingRun, run_grade_worker
from rdagent_autorl.records import read_json, write_json_atomic

FINAL = "final.json"  # in the grader's records folder


class FinalGrade(BaseModel):
    available: bool
    reason: str | None = None  # why there is no final score
    time: float
    submission_id: str | None = None
    declared: bool = False  # the agent declared it final (else: the best selection score)
    selection_score: float | None = None
    score: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    baseline_score: float | None = None
    baseline_ci_low: float | None = None
    baseline_ci_high: float | None = None
    improvement: float | None = None
    model_hash: str | None = None

    def summary(self) -> str:
        """One line for people (the report, the loop's scoreboard, `bench`): the score with its interval
        and the base model's beside it, or why there is none."""
        if not self.available:
            return f"none ({self.reason})"
        how = "declared final by the agent" if self.declared else "the best selection score"
        return (f"{self.score} (95% CI {self.ci_low}-{self.ci_high}, n={self.n}) vs base {self.baseline_score} "
                f"({self.baseline_ci_low}-{self.baseline_ci_high}), {self.improvement:+g}, on the held-out final "
                f"part: {self.submission_id}, {how}, graded once")


def read_final(records_dir: Path) -> FinalGrade | None:
    path = Path(records_dir) / FINAL
    return read_json(path, FinalGrade) if path.exists() else None


def _verified_copy(run: GradingRun, chosen) -> Path:
    """A fresh copy of the kept snapshot whose content hash is the submission's: the kept folder sits
    beside the workspace, where an unsandboxed agent could have written while it ran, so what is graded
    is checked against what was graded before. The caller removes it (GradingRun.discard_snapshot)."""
    from rdagent_autorl.checkpoints import UnsafeTree, open_dir_nofollow, snapshot_tree

    run.snapshot_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix="final-", dir=run.snapshot_root)) / "model"
    try:
        fd = open_dir_nofollow(run.records_dir, [FINAL_CANDIDATES, chosen.id, "model"])
        try:
            digest = snapshot_tree(fd, dest)
        finally:
            os.close(fd)
    except (UnsafeTree, OSError) as exc:
        run.discard_snapshot(dest)
        raise RuntimeError(f"the grader's kept snapshot of {chosen.id} cannot be read: {exc}") from None
    if digest != chosen.content_hash:
        run.discard_snapshot(dest)
        raise RuntimeError(f"the grader's kept snapshot of {chosen.id} changed since it was graded")
    return dest


def _grade(run: GradingRun, config, model_dir: Path) -> EvalResult:
    """The final part's grade of a model: from the grade cache when it is there, else in a worker."""
    if hit := cached_result(config, model_key(config, model_dir)):
        return hit
    return run_grade_worker(run.meta, model_dir, run.devices[0], run.records_dir / GRADER_LOG, part="final")


def grade_final(run: GradingRun) -> FinalGrade:
    """Grade the chosen checkpoint and the base model on the final part; record and return the result."""
    now = time.time()
    source = run.meta.data_source
    if not run.task.has_final_part(source):
        grade = FinalGrade(available=False, time=now, reason=f"source '{source}' of {run.task.id} has no final part "
                           "(DataSource.selection_size); the selection score is the only score")
    elif (chosen := run.final_candidate()) is None:
        grade = FinalGrade(available=False, time=now, reason="no scored submission")
    else:
        config = make_config(run.task, run.meta.backend, source, run.meta.limit, part="final")
        copy = None
        try:
            base = _grade(run, config, Path(run.meta.base_model))
            result = cached_result(config, chosen.model_hash) if chosen.model_hash else None
            if result is None:
                copy = _verified_copy(run, chosen)
                result = _grade(run, config, copy)
        except RuntimeError as exc:  # the worker failed: recorded, and the kept snapshot stays for a retry
            grade = FinalGrade(available=False, time=now, submission_id=chosen.id, declared=chosen.declared_final,
                               selection_score=chosen.score, reason=f"the final grade failed: {exc}"[:1000])
        else:
            grade = FinalGrade(
                available=True, time=now, submission_id=chosen.id, declared=chosen.declared_final,
                selection_score=chosen.score, score=result.score, ci_low=result.ci_low, ci_high=result.ci_high,
                n=result.n, baseline_score=base.score, baseline_ci_low=base.ci_low, baseline_ci_high=base.ci_high,
                improvement=round(result.score - base.score, 2), model_hash=result.model_hash)
            shutil.rmtree(run.records_dir / FINAL_CANDIDATES, ignore_errors=True)  # graded and cached: not needed
        finally:
            if copy is not None:
                run.discard_snapshot(copy)
    write_json_atomic(run.records_dir / FINAL, grade)
    return grade
