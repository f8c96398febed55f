"""The grader's side of one run: its metadata, its submissions, and how a submission is scored.

The HTTP layer (`service.py`) only translates between JSON and this class. Evaluations run in a
worker subprocess (`python -m rdagent_autorl.grading.worker`), one at a time per device: a model that
crashes or leaks GPU memory cannot take the service down, and `CUDA_VISIBLE_DEVICES` pins each
evaluation to its GPU, which vLLM needs before it initialises.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from rdagent_autorl.grading.evaluate import EvalResult, cached_result, make_config, model_key
from rdagent_autorl.records import append_record, read_json, read_jsonl, write_json_atomic
from rdagent_autorl.tasks import TaskSpec, get_task

RUN_META, SCORES, GRADER_LOG, REFUSALS = "run_meta.json", "scores.jsonl", "grader.log", "refusals.jsonl"


class SubmissionError(Exception):
    """A submission the grader refuses; `status` is the HTTP status the service answers with."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class RunMeta(BaseModel):
    task: str  # a benchmark id or a custom task folder
    base_model: str  # resolved checkpoint folder
    data_source: str = "auto"
    backend: str = "hf"
    limit: int | None = None
    gpus: list[str] = Field(default_factory=list)
    start: float = Field(default_factory=time.time)
    timeout_s: int
    last_submission: float | None = None
    end: float | None = None


class Submission(BaseModel):
    id: str
    time: float
    model_path: str
    status: Literal["scored", "invalid"]
    score: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    baseline_score: float | None = None
    improvement: float | None = None
    best_so_far: float | None = None
    total_submissions: int
    copied_base_model: bool = False
    code_revision: str | None = None  # the recorder's snapshot of code/ taken when the submission arrived
    cached: bool = False
    model_hash: str | None = None
    samples_path: str | None = None
    error: str | None = None
    breakdown: dict[str, dict[str, float]] = Field(default_factory=dict)  # per group, for tasks that have one
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)  # the task's extra metrics
    judge: dict[str, Any] = Field(default_factory=dict)  # judge-scored tasks: identity, FAKE or not, calls made


class Refusal(BaseModel):
    """A submission the grader refused (refusals.jsonl): never scored, never forgotten."""

    time: float
    model_path: str
    status: int
    reason: str


class GradingRun:
    def __init__(self, workspace: Path, meta: RunMeta):
        self.workspace = workspace.resolve()
        self.meta = meta
        self.task: TaskSpec = get_task(meta.task)
        self.config = make_config(self.task, meta.backend, meta.data_source, meta.limit)
        self.devices = list(meta.gpus) or ["cpu"]
        self._device_locks = {d: threading.Lock() for d in self.devices}
        self._store_lock = threading.Lock()
        self._baseline_lock = threading.Lock()
        self._baseline: EvalResult | None = None
        self._base_weights: str | None = None
        # Ids are given on arrival (two devices may finish out of order); reopening continues the count.
        self._count = len(self.submissions())
        # Called with the submission id when a valid-looking submission arrives (the harness snapshots
        # the agent's code there); returns the revision id to store with the submission.
        self.on_receive: Callable[[str], str | None] | None = None

    # -- creation ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, workspace: Path, **meta_fields) -> "GradingRun":
        """Open a run workspace, creating it (with `meta_fields`) when it has no run_meta.json yet.
        Reopening keeps the original start time and every recorded submission."""
        meta_file = workspace / RUN_META
        if meta_file.exists():
            meta = read_json(meta_file, RunMeta)
        else:
            task = str(meta_fields.get("task", ""))
            if Path(task).is_dir():  # a custom task folder: absolute, so a restart from elsewhere finds it
                meta_fields["task"] = str(Path(task).resolve())
            meta = RunMeta(**meta_fields)
            workspace.mkdir(parents=True, exist_ok=True)
        (workspace / "output").mkdir(exist_ok=True)
        run = cls(workspace, meta)
        run.save_meta()
        return run

    @property
    def output_dir(self) -> Path:
        return self.workspace / "output"

    def save_meta(self) -> None:
        write_json_atomic(self.workspace / RUN_META, self.meta)

    # -- time and records -------------------------------------------------------------------------
    def time_info(self) -> dict:
        now = time.time()
        return {"start": self.meta.start, "timeout_s": self.meta.timeout_s, "now": now,
                "remaining_s": max(0.0, self.meta.start + self.meta.timeout_s - now)}

    def submissions(self) -> list[Submission]:
        return read_jsonl(self.workspace / SCORES, Submission)  # a line cut by a crash is skipped

    # -- validation -------------------------------------------------------------------------------
    def resolve_submission(self, raw: str) -> Path:
        """The submitted folder, proven to lie inside the run's output directory."""
        from rdagent_autorl.models.resolve import is_model_dir

        if not isinstance(raw, str) or not raw.strip():
            raise SubmissionError(400, "model_path must be a non-empty string")
        if "\0" in raw:
            raise SubmissionError(400, "model_path contains a NUL byte")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.workspace / candidate
        resolved = Path(os.path.realpath(candidate))  # follows every symlink, collapses '..'
        output = Path(os.path.realpath(self.output_dir))
        if resolved != output and output not in resolved.parents:
            raise SubmissionError(403, f"model_path must be inside the run's output directory {output}")
        if not resolved.exists():
            raise SubmissionError(404, f"model_path {raw} does not exist")
        ok, why = is_model_dir(resolved)
        if not ok:
            raise SubmissionError(422, f"model_path {raw} is not a model checkpoint: {why}")
        return resolved

    # -- scoring ----------------------------------------------------------------------------------
    def _pick_device(self, gpu: str | None) -> str:
        if gpu is not None:
            if str(gpu) not in self._device_locks:
                raise SubmissionError(400, f"gpu {gpu} is not one of this run's devices: {', '.join(self.devices)}")
            return str(gpu)
        return next((d for d, lock in self._device_locks.items() if not lock.locked()), self.devices[0])

    def _evaluate(self, model_dir: Path, device: str) -> EvalResult:
        if hit := cached_result(self.config, model_key(self.config, model_dir)):
            return hit
        with self._device_locks[device]:
            return run_grade_worker(self.meta, model_dir, device, self.workspace / GRADER_LOG)

    def baseline(self) -> EvalResult:
        with self._baseline_lock:
            if self._baseline is None:
                self._baseline = self._evaluate(Path(self.meta.base_model), self.devices[0])
            return self._baseline

    def submit(self, raw_path: str, gpu: str | None = None) -> Submission:
        from rdagent_autorl.checkpoints import weights_hash

        received = time.time()
        try:
            if received > self.meta.start + self.meta.timeout_s:
                raise SubmissionError(409, "the run's time budget is over; submissions are closed")
            model_dir = self.resolve_submission(raw_path)
        except SubmissionError as exc:  # refused, but never forgotten: the report lists refusals
            append_record(self.workspace / REFUSALS,
                          Refusal(time=received, model_path=str(raw_path), status=exc.status, reason=exc.reason))
            raise
        with self._store_lock:
            self._count += 1
            sub_id = f"sub-{self._count:04d}"
        revision = self.on_receive(sub_id) if self.on_receive else None
        device = self._pick_device(gpu)
        try:
            baseline = self.baseline()
        except RuntimeError as exc:  # the base model itself fails: not the submitter's fault
            raise SubmissionError(503, f"the baseline could not be computed: {exc}") from exc
        if self._base_weights is None:
            self._base_weights = weights_hash(Path(self.meta.base_model))
        try:
            result, error = self._evaluate(model_dir, device), None
        except RuntimeError as exc:  # the worker failed: the checkpoint does not load or generate
            result, error = None, str(exc)
        with self._store_lock:
            previous = self.submissions()
            best = max([s.score for s in previous if s.score is not None] + ([result.score] if result else []), default=None)
            record = Submission(
                id=sub_id, time=received, code_revision=revision, model_path=str(model_dir.relative_to(self.workspace)),
                status="scored" if result else "invalid", baseline_score=baseline.score, best_so_far=best,
                total_submissions=len(previous) + 1, copied_base_model=weights_hash(model_dir) == self._base_weights,
                error=error,
            )
            if result:
                record = record.model_copy(update={
                    "score": result.score, "ci_low": result.ci_low, "ci_high": result.ci_high, "n": result.n,
                    "improvement": round(result.score - baseline.score, 2), "cached": result.cached,
                    "model_hash": result.model_hash, "samples_path": result.samples_path,
                    "breakdown": result.breakdown, "metrics": result.metrics, "judge": result.judge,
                })
            append_record(self.workspace / SCORES, record)
            self.meta.last_submission = received
            self.save_meta()
        if error:
            raise SubmissionError(422, f"{record.id}: the checkpoint could not be evaluated: {error}")
        return record


def run_grade_worker(meta: RunMeta, model_dir: Path, device: str, log_file: Path) -> EvalResult:
    """Evaluate in a fresh process (grading/worker.py) and read its one-line JSON result.
    The per-sample answers (held-out prompts and references) go to the grading cache, never into the
    agent's workspace."""
    cmd = [sys.executable, "-m", "rdagent_autorl.grading.worker", "--task", meta.task, "--model", str(model_dir),
           "--backend", meta.backend, "--data", meta.data_source]
    if meta.limit is not None:
        cmd += ["--limit", str(meta.limit)]
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # grader.log is read by people, not a terminal
    if device != "cpu":
        env["CUDA_VISIBLE_DEVICES"] = device
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as log:
        log.write(f"[{time.strftime('%Y-%m-%dT%H:%M:%S')}] grade {model_dir} on {device}\n")
        log.flush()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    if proc.returncode != 0:
        tail = log_file.read_text().splitlines()[-5:]
        raise RuntimeError(f"grading worker exited with {proc.returncode}: {' | '.join(tail)}")
    return EvalResult.model_validate_json(proc.stdout.strip().splitlines()[-1])
