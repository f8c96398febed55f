"""Score one checkpoint on a task's held-out split: generate, score, bootstrap a 95% interval.

Results are cached by content: the key combines the evaluation config with a hash of the model's
files, so re-submitting the same weights (or re-computing a baseline) costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks import TaskSpec

# Bump when prompts, extraction or scoring change in a way that changes scores: old cache entries die.
SCORING_VERSION = 1
# Files besides the weights that change what a checkpoint generates.
_GENERATION_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                     "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt", "tokenizer.model")


class EvalConfig(BaseModel):
    task: str
    data_source: str
    backend: str
    limit: int | None = None
    max_new_tokens: int
    scoring_version: int = SCORING_VERSION

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class EvalResult(BaseModel):
    task: str
    model: str
    data_source: str
    backend: str
    score: float  # 0-100
    n: int
    n_correct: int
    ci_low: float
    ci_high: float
    timing: dict[str, float]
    samples_path: str
    model_hash: str
    cached: bool = False
    # Per-group scores for tasks with `group_by` (ALFWorld: per task type): {group: {n, score, ci_low, ci_high}}.
    breakdown: dict[str, dict[str, float]] = {}


def model_key(config: EvalConfig, model: Path) -> str:
    """What identifies the model being graded: file content for checkpoints; for an endpoint
    (backend=openai, no local files) the endpoint and the model name it serves."""
    if config.backend == "openai":
        s = get_settings()
        name = s.openai_model or str(model)
        return hashlib.sha256(f"{s.openai_base_url}\0{name}".encode()).hexdigest()[:32]
    return model_hash(model)


def model_hash(model_dir: Path) -> str:
    """Content hash of everything that decides what the checkpoint generates (weights, config, tokenizer)."""
    from rdagent_autorl.models.resolve import weights_hash

    h = hashlib.sha256(weights_hash(model_dir).encode())
    for name in _GENERATION_FILES:
        f = model_dir / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:32]


def bootstrap_ci(correct: list[bool], samples: int | None = None, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap of the accuracy, in points (0-100)."""
    if not correct:
        return 0.0, 0.0
    x = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(samples or get_settings().bootstrap_samples, len(x)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5]) * 100
    return round(float(low), 2), round(float(high), 2)


def _cache_file(config: EvalConfig, mhash: str) -> Path:
    return get_settings().cache_path / "grades" / f"{config.task}-{config.digest()}-{mhash}.json"


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def make_config(task: TaskSpec, backend: str | None = None, data_source: str = "auto", limit: int | None = None) -> EvalConfig:
    return EvalConfig(
        task=task.id,
        data_source=task.resolve_source(data_source),
        backend=backend or get_settings().backend,
        limit=limit if limit is not None else task.budget.eval_limit,
        max_new_tokens=task.budget.max_new_tokens,
    )


def cached_result(config: EvalConfig, mhash: str) -> EvalResult | None:
    cache = _cache_file(config, mhash)
    if not cache.exists():
        return None
    return EvalResult.model_validate({**json.loads(cache.read_text()), "cached": True})


def breakdown(task: TaskSpec, samples, correct: list[bool]) -> dict[str, dict[str, float]]:
    """Score and interval per value of the task's `group_by` meta key (empty when it has none)."""
    if not task.group_by:
        return {}
    groups: dict[str, list[bool]] = {}
    for sample, ok in zip(samples, correct):
        groups.setdefault(str(sample.meta.get(task.group_by, "")), []).append(ok)
    result = {}
    for name, oks in sorted(groups.items()):
        low, high = bootstrap_ci(oks)
        result[name] = {"n": len(oks), "score": round(100 * sum(oks) / len(oks), 2), "ci_low": low, "ci_high": high}
    return result


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
    samples = task.heldout(config.data_source)[: config.limit]
    options = {"device": device} if config.backend == "hf" else {}
    generator = load_backend(config.backend, model_dir, **options)
    t1 = time.perf_counter()
    if task.rollout is not None:  # online task: the checkpoint plays the held-out episodes
        scored = task.rollout(samples, generator)
        t2 = time.perf_counter()
    else:
        completions = generator.generate([task.prompt(s) for s in samples], config.max_new_tokens, task.stop)
        t2 = time.perf_counter()
        scored = task.score(samples, completions)
    t3 = time.perf_counter()

    cache = _cache_file(config, mhash)
    out_dir = out_dir or cache.parent / "samples"
    out_dir.mkdir(parents=True, exist_ok=True)
    samples_path = out_dir / f"{task.id}-{config.digest()}-{mhash}.jsonl"
    with samples_path.open("w") as f:
        for s in scored:
            f.write(s.model_dump_json() + "\n")

    correct = [s.correct for s in scored]
    low, high = bootstrap_ci(correct)
    result = EvalResult(
        task=task.id, model=str(model_dir), data_source=config.data_source, backend=config.backend,
        score=round(100 * sum(correct) / max(len(correct), 1), 2), n=len(correct), n_correct=sum(correct),
        ci_low=low, ci_high=high, samples_path=str(samples_path), model_hash=mhash,
        breakdown=breakdown(task, samples, correct),
        timing={"load_s": round(t1 - t0, 3), "generate_s": round(t2 - t1, 3), "score_s": round(t3 - t2, 3),
                "total_s": round(t3 - t0, 3)},
    )
    write_json_atomic(cache, result.model_dump())
    return result
