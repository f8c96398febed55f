"""The run's final score: its chosen checkpoint graded once on the held-out split's final part.

Submissions are scored on the selection part only: that is the feedback an agent gets and picks its
checkpoints by, so the best of many selection scores overstates what the agent's training achieved
(the more submissions, the more). When the run ends, the harness grades one checkpoint, the one the
agent declared final (`POST /submit {"final": true}`) or else the first with the best selection score,
on the final part, which no submission was ever scored on, and the base model beside it. That is the
run's score in the report and on the leaderboard, next to the selection score.

The checkpoint graded is the grader's kept snapshot of the submission (run.py keeps the current
candidate's), so it is the bytes the selection score was given, whatever output/ holds by then. A
source that declares no final part (DataSource.selection_size is None) gets no final score, said so.
"""

from __future__ import annotations

import shutil
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


def read_final(records_dir: Path) -> FinalGrade | None:
    path = Path(records_dir) / FINAL
    return read_json(path, FinalGrade) if path.exists() else None


def _grade(run: GradingRun, config, model_dir: Path | None, mhash: str | None) -> EvalResult:
    """The final part's grade of a model: from the grade cache when it is there (a resumed run's
    checkpoint was graded at its first end), else in a worker."""
    key = mhash or (model_key(config, model_dir) if model_dir is not None else None)
    if key and (hit := cached_result(config, key)):
        return hit
    if model_dir is None or not model_dir.is_dir():
        raise RuntimeError("the grader's kept snapshot of the checkpoint is gone and its final grade is not cached")
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
        try:
            base = _grade(run, config, Path(run.meta.base_model), None)
            result = _grade(run, config, run.kept_snapshot(chosen.id), chosen.model_hash)
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
    write_json_atomic(run.records_dir / FINAL, grade)
    return grade
