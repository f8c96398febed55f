"""The grader's side of one run: its metadata, its submissions, and how a submission is scored.

The HTTP layer (`service.py`) only translates between JSON and this class. Evaluations run in a
worker subprocess (`python -m rdagent_autorl.grading.worker`), one at a time per device: a model that
crashes or leaks GPU memory cannot take the service down, and `CUDA_VISIBLE_DEVICES` pins each
evaluation to its GPU, which vLLM needs before it initialises.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from rdagent_autorl.grading.evaluate import EvalResult, cached_result, make_config, model_key
from rdagent_autorl.records import append_record, read_json, read_jsonl, write_json_atomic
from rdagent_autorl.tasks import TaskSpec, get_task
from rdagent_autorl.tasks.custom import AGENT_COPY

RUN_META, SCORES, GRADER_LOG, REFUSALS = "run_meta.json", "scores.jsonl", "grader.log", "refusals.jsonl"
FINAL_CANDIDATES = "final-candidate"  # under the records folder: the kept snapshot the final grade takes
SNAPSHOTS = "grader-snapshots"  # beside the workspace (<run>/grader-snapshots), never inside it


def records_dir_for(workspace: Path) -> Path:
    """Where the grader keeps what it trusts (run_meta.json, scores.jsonl, refusals.jsonl, grader.log): beside
    the agent's workspace, never inside it (<run>/workspace.records for a harness run). The workspace gets a
    copy of the metadata, scores and refusals for the agent's convenience; nothing the grader, the report or the ledger trusts is
    read from there, so a line an agent appends or a file it deletes changes no record."""
    workspace = Path(os.path.abspath(workspace))
    return workspace.parent / f"{workspace.name}.records"
MAX_PATH_CHARS, MAX_NAME_BYTES = 4096, 255  # PATH_MAX and NAME_MAX on Linux: longer cannot name a real file
# What a refused snapshot (checkpoints.UnsafeTree.kind) answers with.
_REFUSAL_STATUS = {"symlink": 403, "missing": 404, "not_dir": 422, "special": 422, "too_big": 413, "too_long": 400}


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
    # grading/model_identity.py: a checkpoint on this machine the run did not produce, which these weights
    # equal (its folder), and how the submission's network differs from the base model's
    copied_model: str | None = None
    model_substituted: str | None = None
    declared_final: bool = False  # submitted with final=true: the run's final grade takes this one (final.py)
    code_revision: str | None = None  # the recorder's snapshot of code/ taken when the submission arrived
    cached: bool = False
    model_hash: str | None = None
    # sha256 over every file of the grader's private snapshot of the folder: the bytes that were graded.
    content_hash: str | None = None
    # No samples_path: it names a per-item file of held-out prompts and references, and this record is what
    # the agent gets back (/submit, /submissions). The harness finds it in the grade cache by model_hash.
    error: str | None = None  # the submission's own evaluation error, never the shared grader log
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
    def __init__(self, workspace: Path, meta: RunMeta, snapshot_root: Path | None = None):
        self._workspace_given = Path(os.path.abspath(workspace))  # an absolute path the agent may spell it by
        self.workspace = workspace.resolve()
        # Private copies of submissions are made here, outside the agent's workspace (see submit()).
        self.snapshot_root = Path(snapshot_root) if snapshot_root else self.workspace.parent / SNAPSHOTS
        self.records_dir = records_dir_for(self.workspace)
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
        """Open a run workspace, creating it (with `meta_fields`) when the grader has no record of it yet.
        Reopening keeps the original start time and every recorded submission. The metadata read is the
        grader's own (records_dir_for(workspace)/run_meta.json); the workspace's copy is never read back,
        so an agent that edits its start, time budget or base model there changes nothing."""
        trusted = records_dir_for(workspace) / RUN_META
        if trusted.exists():
            meta = read_json(trusted, RunMeta)
        elif meta_fields:
            task = str(meta_fields.get("task", ""))
            if Path(task).is_dir():  # a custom task folder: absolute, so a restart from elsewhere finds it
                meta_fields["task"] = str(Path(task).resolve())
            meta = RunMeta(**meta_fields)
            workspace.mkdir(parents=True, exist_ok=True)
        else:
            raise FileNotFoundError(f"no grader record of a run at {workspace}: {trusted} is missing (a run is "
                                    f"created with its task, base model and time budget; the workspace's own "
                                    f"{RUN_META} is the agent's copy and is not trusted)")
        (workspace / "output").mkdir(exist_ok=True)
        run = cls(workspace, meta)
        run.save_meta()
        return run

    @property
    def output_dir(self) -> Path:
        return self.workspace / "output"

    def save_meta(self) -> None:
        write_json_atomic(self.records_dir / RUN_META, self.meta)
        # The agent's copy (rename: never through a link). A custom task is named there by its public copy in
        # the workspace (tasks/custom.py): the original folder holds the held-out file and lies outside the sandbox.
        public = self.workspace / AGENT_COPY
        agent_meta = self.meta.model_copy(update={"task": str(public)}) if (public / "task.yaml").is_file() else self.meta
        write_json_atomic(self.workspace / RUN_META, agent_meta)

    # -- time and records -------------------------------------------------------------------------
    def time_info(self) -> dict:
        now = time.time()
        return {"start": self.meta.start, "timeout_s": self.meta.timeout_s, "now": now,
                "remaining_s": max(0.0, self.meta.start + self.meta.timeout_s - now)}

    def submissions(self) -> list[Submission]:
        return read_jsonl(self.records_dir / SCORES, Submission)  # a line cut by a crash is skipped

    def _record(self, name: str, record) -> None:
        """Append to the grader's own file, then to the agent's copy (a courtesy: never read back)."""
        append_record(self.records_dir / name, record)
        try:  # never through a link: an agent could point its copy at a file only the harness may write
            append_record(self.workspace / name, record, follow_links=False)
        except OSError:  # a link, a folder, an unwritable file: the agent's copy is its own loss only
            pass

    # -- validation -------------------------------------------------------------------------------
    def _submitted_parts(self, raw: str) -> list[str]:
        """The submitted folder as path components under output/, decided lexically: nothing on disk is
        resolved here (a symlink is refused later, when the folder is opened without following links)."""
        if not isinstance(raw, str) or not raw.strip():
            raise SubmissionError(400, "model_path must be a non-empty string")
        if "\0" in raw:
            raise SubmissionError(400, "model_path contains a NUL byte")
        if len(raw) > MAX_PATH_CHARS:
            raise SubmissionError(400, f"model_path is {len(raw)} characters long; at most {MAX_PATH_CHARS} are allowed")
        candidate = Path(raw)
        if not candidate.is_absolute():
            candidate = self.workspace / candidate
        norm = Path(os.path.normpath(candidate))  # collapses '..' by name; no symlink is ever followed below
        for base in dict.fromkeys((self.workspace, self._workspace_given)):
            if norm.is_relative_to(base / "output"):
                parts = list(norm.relative_to(base / "output").parts)
                break
        else:
            raise SubmissionError(403, f"model_path must be inside the run's output directory {self.output_dir}")
        if any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in parts):
            raise SubmissionError(400, f"model_path has a component longer than {MAX_NAME_BYTES} bytes")
        if not parts:
            raise SubmissionError(422, "model_path is the output directory itself, not a model checkpoint: "
                                       "submit a folder inside it")
        return parts

    def snapshot_submission(self, raw: str) -> tuple[Path, str]:
        """Copy the submitted folder into a grader-owned folder and check the copy: returns the snapshot's
        model folder and its content hash. Every later step (validation, hashing, grading) reads only the
        snapshot, so swapping the agent's folder after this point changes nothing. Any symlink in the
        path under output/ or in the folder is refused. The caller removes the snapshot (discard_snapshot)."""
        from rdagent_autorl.checkpoints import UnsafeTree, open_dir_nofollow, snapshot_tree
        from rdagent_autorl.models.resolve import is_model_dir

        parts = self._submitted_parts(raw)
        shown = "/".join(["output", *parts])[:300]
        self.snapshot_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        model_dir = Path(tempfile.mkdtemp(prefix="sub-", dir=self.snapshot_root)) / "model"
        try:
            fd = open_dir_nofollow(self.workspace, ["output", *parts])
            try:
                content_hash = snapshot_tree(fd, model_dir)
            finally:
                os.close(fd)
        except UnsafeTree as exc:
            self.discard_snapshot(model_dir)
            raise SubmissionError(_REFUSAL_STATUS[exc.kind], f"model_path {shown} is refused: {exc.reason}") from None
        except BaseException:
            self.discard_snapshot(model_dir)
            raise
        ok, why = is_model_dir(model_dir)
        if not ok:
            self.discard_snapshot(model_dir)
            raise SubmissionError(422, f"model_path {shown} is not a model checkpoint: {why}")
        return model_dir, content_hash

    @staticmethod
    def discard_snapshot(model_dir: Path) -> None:
        shutil.rmtree(model_dir.parent, ignore_errors=True)

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
            return run_grade_worker(self.meta, model_dir, device, self.records_dir / GRADER_LOG)

    def baseline(self) -> EvalResult:
        with self._baseline_lock:
            if self._baseline is None:
                self._baseline = self._evaluate(Path(self.meta.base_model), self.devices[0])
            return self._baseline

    def submit(self, raw_path: str, gpu: str | None = None, final: bool = False) -> Submission:
        received = time.time()
        try:
            if received > self.meta.start + self.meta.timeout_s:
                raise SubmissionError(409, "the run's time budget is over; submissions are closed")
            model_dir, content_hash = self.snapshot_submission(raw_path)
        except SubmissionError as exc:  # refused, but never forgotten: the report lists refusals
            self._record(REFUSALS,  # a path is cut short: a 4 kB path is not worth a 4 kB line
                         Refusal(time=received, model_path=str(raw_path)[:500], status=exc.status, reason=exc.reason))
            raise
        # The snapshot is only needed while grading (the record keeps its hashes, the grade cache its
        # result), except for the checkpoint the run's final grade would take now (final.py: the one
        # declared final, else the best so far), kept as graded, whatever output/ holds later.
        kept = False
        try:
            record = self._grade_snapshot(raw_path, model_dir, content_hash, received, gpu, final)
            kept = self._keep_final_candidate(record, model_dir)
            return record
        finally:
            if not kept:
                self.discard_snapshot(model_dir)

    def final_candidate(self) -> Submission | None:
        """The submission the final part grades: the last one declared final, else the first with the best
        selection score; None without a scored submission."""
        scored = [s for s in self.submissions() if s.status == "scored" and s.score is not None]
        declared = [s for s in scored if s.declared_final]
        if declared:
            return declared[-1]
        return max(scored, key=lambda s: s.score, default=None)  # max keeps the first of equal scores

    def kept_snapshot(self, sub_id: str) -> Path:
        return self.records_dir / FINAL_CANDIDATES / sub_id / "model"

    def _keep_final_candidate(self, record: Submission, model_dir: Path) -> bool:
        with self._store_lock:
            chosen = self.final_candidate()
            if chosen is None or chosen.id != record.id:
                return False
            target = self.kept_snapshot(record.id)
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(str(model_dir), target)
            for old in (self.records_dir / FINAL_CANDIDATES).iterdir():  # the one it replaces
                if old.name != record.id:
                    shutil.rmtree(old, ignore_errors=True)
        self.discard_snapshot(model_dir)  # the empty folder the snapshot was made in
        return True

    def _grade_snapshot(self, raw_path: str, model_dir: Path, content_hash: str, received: float,
                        gpu: str | None, final: bool) -> Submission:
        from rdagent_autorl.checkpoints import weights_hash

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
            result, error = None, str(exc).replace(str(model_dir), "the submitted checkpoint")[:1000]
        copied_base = weights_hash(model_dir) == self._base_weights
        copied_model, substituted = self._identity(model_dir, copied_base)
        with self._store_lock:
            previous = self.submissions()
            best = max([s.score for s in previous if s.score is not None] + ([result.score] if result else []), default=None)
            record = Submission(
                id=sub_id, time=received, code_revision=revision, content_hash=content_hash,
                model_path="/".join(["output", *self._submitted_parts(raw_path)]),
                status="scored" if result else "invalid", baseline_score=baseline.score, best_so_far=best,
                total_submissions=len(previous) + 1, copied_base_model=copied_base,
                copied_model=copied_model, model_substituted=substituted, error=error,
                declared_final=bool(final and result),
            )
            if result:
                record = record.model_copy(update={
                    "score": result.score, "ci_low": result.ci_low, "ci_high": result.ci_high, "n": result.n,
                    "improvement": round(result.score - baseline.score, 2), "cached": result.cached,
                    "model_hash": result.model_hash,
                    "breakdown": result.breakdown, "metrics": result.metrics, "judge": result.judge,
                })
            self._record(SCORES, record)
            self.meta.last_submission = received
            self.save_meta()
        if error:
            raise SubmissionError(422, f"{record.id}: the checkpoint could not be evaluated: {error}")
        return record


    def _identity(self, model_dir: Path, copied_base: bool) -> tuple[str | None, str | None]:
        """(the checkpoint these weights copy, how the network differs from the base model's): model_identity.py.
        The base model's own weights are copied_base_model, whatever other copies of it lie around."""
        from rdagent_autorl.grading.model_identity import (architecture_change, find_copied_checkpoint,
                                                           known_checkpoint_roots)

        base = Path(self.meta.base_model).resolve()
        run_dir = self.workspace.parent
        try:
            substituted = architecture_change(base, model_dir)
        except (OSError, ValueError):  # an unreadable config or header: the worker's load fails and says why
            substituted = None
        copied = None if copied_base else find_copied_checkpoint(model_dir, known_checkpoint_roots(run_dir),
                                                                 exclude=[run_dir, base])
        return (str(copied) if copied else None), substituted


def run_grade_worker(meta: RunMeta, model_dir: Path, device: str, log_file: Path, part: str = "selection") -> EvalResult:
    """Evaluate in a fresh process (grading/worker.py) and read its one-line JSON result.
    The per-sample answers (held-out prompts and references) go to the grading cache, never into the
    agent's workspace."""
    cmd = [sys.executable, "-m", "rdagent_autorl.grading.worker", "--task", meta.task, "--model", str(model_dir),
           "--backend", meta.backend, "--data", meta.data_source, "--part", part]
    if meta.limit is not None:
        cmd += ["--limit", str(meta.limit)]
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # grader.log is read by people, not a terminal
    if device != "cpu":
        env["CUDA_VISIBLE_DEVICES"] = device
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # This evaluation's stderr is captured on its own, then appended to the shared log: the error given
    # back to the submitter is its own worker's, never the last lines of another evaluation.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with log_file.open("a") as log:
        log.write(f"[{time.strftime('%Y-%m-%dT%H:%M:%S')}] grade {model_dir} on {device} ({part} part)\n{proc.stderr}")
    if proc.returncode != 0:
        own = [line for line in proc.stderr.splitlines() if line.startswith("grading ")]  # worker.py's one line
        raise RuntimeError(own[-1] if own else f"grading worker exited with {proc.returncode}")
    return EvalResult.model_validate_json(proc.stdout.strip().splitlines()[-1])
