"""Score one checkpoint on a task's held-out split: the task's solver makes a transcript per sample,
its scorer turns each into a value in [0, 1] (maybe with a judge), and the grade is the mean x 100
with a 95% bootstrap interval, per group too, plus the task's extra metrics.

Results are cached by content: the key combines the evaluation config (which holds the task's version,
a digest of its protocol files and the judge's identity) with a hash of the model's files, so
re-submitting the same weights (or re-computing a baseline) costs nothing, and a changed prompt,
environment, scorer or judge can never return a stale grade. Each entry is signed with the installation's
key (installation.py): one the harness did not write is ignored and graded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from rdagent_autorl.installation import sign, verify
from rdagent_autorl.records import write_json_atomic
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks import TaskSpec

# Bump when the grading itself changes (how values become a score, the result's shape): old cache
# entries die. A task's own protocol is keyed by its version and protocol digest instead.
# 2: graded values (float per sample, mean x 100), extra metrics, task version/protocol/judge in the key.
SCORING_VERSION = 2
logger = logging.getLogger(__name__)
class EvalConfig(BaseModel):
    task: str
    data_source: str
    backend: str
    limit: int | None = None
    part: str = "selection"  # of the held-out split (TaskSpec.heldout_part): submissions see selection scores only
    max_new_tokens: int
    task_version: int
    protocol: str  # digest of the task's protocol files
    judge: str = ""  # the judge's identity (backend, endpoint, model) for tasks scored by one
    settings: str = ""  # the task's grade_settings() as JSON
    eval_seed: str = ""  # generated sources: the hash of the held-out set's seed (TaskSpec.eval_seed_hash)
    scoring_version: int = SCORING_VERSION

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class EvalResult(BaseModel):
    task: str
    model: str
    data_source: str
    backend: str
    score: float  # 0-100: the mean value x 100
    n: int
    n_correct: int | None = None  # tasks whose samples are right or wrong
    ci_low: float
    ci_high: float
    timing: dict[str, float]
    samples_path: str
    model_hash: str  # the model's identity (content hash, or endpoint + served name)
    cached: bool = False
    # Per-group scores for tasks with `group_by` (ALFWorld: per task type): {group: {n, score, ci_low, ci_high}}.
    breakdown: dict[str, dict[str, float]] = {}
    # Extra metrics next to the score: per-sample means {name: {mean, ci_low, ci_high, n}} and the task's
    # aggregates {name: {value[, ci_low, ci_high]}} (e.g. a length-controlled win rate, not a plain mean).
    metrics: dict[str, dict[str, float]] = {}
    headline: str = "mean_value"  # what `score` is: the mean value, or the task's headline aggregate
    # Judge-scored tasks: the judge's identity, whether it is FAKE, and the calls this grade made
    # (calls, cache_hits, retries, tokens, cost_usd); a grade answered from the grade cache made none.
    judge: dict[str, Any] = {}
    # Generated sources: the hash of this installation's held-out seed (never the seed): which held-out set
    # was graded; grades with different hashes were graded on different items.
    eval_seed: str = ""


def model_key(config: EvalConfig, model: Path) -> str:
    """What identifies the model being graded, without loading it: file content for checkpoints; for an
    endpoint (backend=openai, no local files) the endpoint and the model name it serves."""
    from rdagent_autorl.generation import model_identity

    return model_identity(config.backend, model).replace(":", "-").replace("/", "_")  # also a file name part


def bootstrap_ci(values: list[float], samples: int | None = None, seed: int = 0, scale: float = 100.0
                 ) -> tuple[float, float]:
    """Percentile bootstrap of the mean value, x `scale` (default: points, 0-100)."""
    if not values:
        return 0.0, 0.0
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(samples or get_settings().bootstrap_samples, len(x)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5]) * scale
    return round(float(low), 2), round(float(high), 2)


def _cache_file(config: EvalConfig, mhash: str) -> Path:
    return get_settings().cache_path / "grades" / f"{config.task}-{config.digest()}-{mhash}.json"


def make_config(task: TaskSpec, backend: str | None = None, data_source: str = "auto", limit: int | None = None,
                part: str = "selection") -> EvalConfig:
    judge = ""
    if task.uses_judge:
        from rdagent_autorl.generation.judge import judge_identity

        judge = judge_identity(task.fake_judge)
    # e.g. the annotator or the search backend: a different question is a different grade
    settings = json.dumps(task.grade_settings(), sort_keys=True) if task.grade_settings is not None else ""
    source = task.resolve_source(data_source)
    return EvalConfig(
        task=task.id,
        data_source=source,
        backend=backend or get_settings().backend,
        limit=limit if limit is not None else task.budget.eval_limit,
        part=part,
        max_new_tokens=task.max_new_tokens(source),
        task_version=task.version,
        protocol=task.protocol_digest(),
        judge=judge,
        settings=settings,
        eval_seed=task.eval_seed_hash(source),
    )


def _signed(result: EvalResult) -> dict:
    """A cache entry: the result and its HMAC under the installation key. The cache folder may be
    reachable by an agent (e.g. the judge tasks' reply cache lives beside it); an entry it forged without
    the key fails the check and is graded again."""
    data = result.model_dump(mode="json")
    return {"result": data, "hmac": sign(_canonical(data))}


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def cached_result(config: EvalConfig, mhash: str) -> EvalResult | None:
    cache = _cache_file(config, mhash)
    if not cache.exists():
        return None
    try:
        entry = json.loads(cache.read_text())
        if not verify(_canonical(entry["result"]), entry["hmac"]):
            logger.warning("ignoring grade cache entry %s: its signature does not match (forged, or another "
                           "installation's); grading again", cache.name)
            return None
        result = EvalResult.model_validate(entry["result"])
    except (ValueError, KeyError, TypeError):  # a torn, foreign or unsigned file: grade again rather than fail
        return None
    return result.model_copy(update={"cached": True})


def _points(values: list[float]) -> float:
    """The mean value in points, rounded as every published score is (100 * sum / n, 2 decimals)."""
    return round(100 * sum(values) / len(values), 2) if values else 0.0


def breakdown(task: TaskSpec, samples, values: list[float]) -> dict[str, dict[str, float]]:
    """Score and interval per value of the task's `group_by` meta key (empty when it has none)."""
    if not task.group_by:
        return {}
    groups: dict[str, list[float]] = {}
    for sample, value in zip(samples, values):
        groups.setdefault(str(sample.meta.get(task.group_by, "")), []).append(value)
    result = {}
    for name, vs in sorted(groups.items()):
        low, high = bootstrap_ci(vs)
        result[name] = {"n": len(vs), "score": _points(vs), "ci_low": low, "ci_high": high}
    return result


def extra_metrics(task: TaskSpec, samples, scored) -> dict[str, dict[str, float]]:
    """The per-sample metrics' means with their intervals (in the metric's own units), and the task's
    aggregates."""
    names = sorted({name for s in scored for name in s.metrics})
    result = {}
    for name in names:
        vs = [s.metrics[name] for s in scored if name in s.metrics]
        low, high = bootstrap_ci(vs, scale=1.0)
        result[name] = {"mean": round(sum(vs) / len(vs), 4), "ci_low": low, "ci_high": high, "n": len(vs)}
    if task.aggregate is not None:
        for name, v in task.aggregate(samples, scored).items():
            result[name] = {k: round(float(x), 4) for k, x in (v if isinstance(v, dict) else {"value": v}).items()}
    return result


def check_judge(task: TaskSpec) -> str:
    """For a judge-scored task: load the judge and send the task's probe (`TaskSpec.check_judge`), so an
    unknown annotator, an unreachable endpoint or an endpoint without logprobs fails before any
    generation or training. Returns the judge's identity ("" for other tasks)."""
    if not task.uses_judge:
        return ""
    from rdagent_autorl.generation.judge import load_judge

    client = load_judge(task.fake_judge)
    if task.check_judge is not None:
        task.check_judge(client)
    return client.identity()


class JudgeOnce:
    """The judge, loaded when a scorer first asks for it (most grades never do); remembers it for the
    grade's record of judge calls."""

    def __init__(self, task: TaskSpec):
        self.task, self.client = task, None

    def __call__(self):
        if self.client is None:
            from rdagent_autorl.generation.judge import load_judge

            self.client = load_judge(self.task.fake_judge)
        return self.client

    def record(self) -> dict[str, Any]:
        return self.client.usage_record() if self.client is not None else {}


def evaluate(
    task: TaskSpec,
    model_dir: Path,
    config: EvalConfig,
    *,
    out_dir: Path | None = None,
    device: str | None = None,
    use_cache: bool = True,
) -> EvalResult:
    from rdagent_autorl.generation import load_backend

    mhash = model_key(config, model_dir)
    if use_cache and (hit := cached_result(config, mhash)):
        return hit

    t0 = time.perf_counter()
    samples = task.heldout_part(config.data_source, config.part)[: config.limit]
    if not samples:
        raise ValueError(f"{task.id} source {config.data_source}: the held-out {config.part} part is empty")
    policy = load_backend(config.backend, model_dir, device=device)  # device: where the backend has a choice
    t1 = time.perf_counter()
    transcripts = task.solve(samples, policy, config.max_new_tokens)  # one generation each, or episodes played in the environment
    t2 = time.perf_counter()
    judge = JudgeOnce(task)
    scored = task.score(samples, transcripts, judge)
    t3 = time.perf_counter()

    cache = _cache_file(config, mhash)
    out_dir = out_dir or cache.parent / "samples"
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / f"{task.id}-{config.digest()}-{mhash}.jsonl"
    with samples_path.open("w") as f:
        for s in scored:
            f.write(s.model_dump_json() + "\n")

    values = [s.value for s in scored]
    binary = all(s.correct is not None for s in scored)
    score, (low, high) = _points(values), bootstrap_ci(values)
    metrics = extra_metrics(task, samples, scored)
    if task.headline:  # e.g. the LC win rate is the score; the plain mean stays visible next to it
        metrics["mean_value"] = {"mean": round(score / 100, 4), "ci_low": low / 100, "ci_high": high / 100, "n": len(values)}
        top = metrics[task.headline]
        score, low, high = top["value"], top.get("ci_low", top["value"]), top.get("ci_high", top["value"])
    result = EvalResult(
        task=task.id, model=str(model_dir), data_source=config.data_source, backend=config.backend,
        score=score, n=len(values), n_correct=sum(bool(s.correct) for s in scored) if binary else None,
        ci_low=low, ci_high=high, samples_path=str(samples_path), model_hash=mhash,
        breakdown=breakdown(task, samples, values), metrics=metrics, headline=task.headline or "mean_value",
        judge=judge.record(), eval_seed=config.eval_seed,
        timing={"load_s": round(t1 - t0, 3), "generate_s": round(t2 - t1, 3), "score_s": round(t3 - t2, 3),
                "total_s": round(t3 - t0, 3)},
    )
    write_json_atomic(cache, _signed(result))
    return result
