"""gsm8k-rule's data: the sources `auto` tries (local copy, hub) and the offline synthetic levels.

- `local`: a copy of openai/gsm8k at AUTORL_GSM8K_PATH (a `save_to_disk` folder, the hub's parquet
  layout, or train/test JSONL files);
- `hub`: `openai/gsm8k` (config `main`) through `datasets`, following the usual HF cache/offline rules;
- `synthetic`: never chosen by `auto`, because its scores are not GSM8K scores. Seeded, generated
  problems in GSM8K's format for offline runs and tests (see `synthetic.py`): 1- and 2-step.
- `smoke`: the easiest synthetic level, for `--smoke`: one-step problems in which no number exceeds
  20, small enough for the tiny model to learn some of in a few CPU minutes.
Train is visible to agents; test is the held-out evaluation. The synthetic levels' training problems come
from a public seed, their held-out problems from this installation's secret (EVAL_SEED_LABELS).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from rdagent_autorl.installation import eval_seed
from rdagent_autorl.settings import get_settings
from rdagent_autorl.types import Sample, TaskError

HUB_ID, HUB_CONFIG = "openai/gsm8k", "main"
# Synthetic data (documented in description.md): `synthetic` is half one-step, half two-step problems;
# `smoke` is one-step problems with every number <= SMOKE_MAX_NUMBER.
SYNTHETIC_DIFFICULTIES = (1, 2)
SYNTHETIC_TRAIN_PER_LEVEL, SYNTHETIC_EVAL_PER_LEVEL = 500, 100
SMOKE_MAX_NUMBER, SMOKE_TRAIN, SMOKE_EVAL = 20, 1000, 400
# The selection part of the held-out split (what submissions are scored on: the first items); the rest is
# the final part, graded once for the run's chosen checkpoint. Smoke: 200 + 200 (the eval stream is
# prefix-stable, so the selection part is the 200 problems smoke runs were always scored on). GSM8K's
# 1,319 test problems: 660 + 659.
SMOKE_SELECTION, GSM8K_SELECTION = 200, 660
# The synthetic sources' held-out seeds: installation.eval_seed(label), a secret of this installation.
EVAL_SEED_LABELS = {"synthetic": "gsm8k-rule/synthetic/synthetic-v1", "smoke": "gsm8k-rule/smoke/synthetic-v1"}


def local_check() -> tuple[bool, str]:
    path = get_settings().gsm8k_path
    if path is None:
        return False, "AUTORL_GSM8K_PATH is not set"
    return (True, "") if Path(path).expanduser().exists() else (False, f"{path} does not exist")


def _hub_offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_check() -> tuple[bool, str]:
    # Cheap and offline: look for the dataset in the caches instead of asking the hub.
    from huggingface_hub.constants import HF_HUB_CACHE

    cached = (Path(HF_HUB_CACHE) / "datasets--openai--gsm8k").exists()
    if cached or not _hub_offline():
        return True, "" if cached else "not cached; will download"
    return False, "offline and not in the HF cache"


def _synthetic(source: str) -> tuple[list[dict], list[dict]]:
    return _synthetic_splits(source, eval_seed(EVAL_SEED_LABELS[source]))


@lru_cache(maxsize=2)
def _synthetic_splits(source: str, seed: int) -> tuple[list[dict], list[dict]]:
    from rdagent_autorl.tasks.gsm8k_rule.synthetic import synthetic_splits

    if source == "smoke":
        return synthetic_splits(SMOKE_TRAIN, SMOKE_EVAL, difficulty=1, max_number=SMOKE_MAX_NUMBER, eval_seed=seed)
    splits = [synthetic_splits(SYNTHETIC_TRAIN_PER_LEVEL, SYNTHETIC_EVAL_PER_LEVEL, difficulty=d, eval_seed=seed)
              for d in SYNTHETIC_DIFFICULTIES]
    train = [row for tr, _ in splits for row in tr]
    seen = {row["question"] for row in train}
    # Each level's split is disjoint by construction; this also rules out overlap across levels.
    return train, [row for _, ev in splits for row in ev if row["question"] not in seen]


def _records(split: str, source: str) -> list[dict]:
    if source in ("synthetic", "smoke"):
        train, test = _synthetic(source)
        return train if split == "train" else test
    import datasets

    try:
        if source == "local":
            path = Path(get_settings().gsm8k_path).expanduser()
            if (path / "dataset_dict.json").exists():
                ds = datasets.load_from_disk(str(path))[split]
            else:
                ds = datasets.load_dataset(str(path), split=split)
        else:
            ds = datasets.load_dataset(HUB_ID, HUB_CONFIG, split=split)
    except Exception as exc:  # datasets raises many types (connection, missing files, bad layout)
        hint = " (offline here? pass --data synthetic for the offline smoke set)" if source == "hub" else ""
        raise TaskError(f"cannot load gsm8k {split} split from {source}: {type(exc).__name__}: {exc}{hint}") from exc
    return [{"question": r["question"], "answer": r["answer"]} for r in ds]


def loader(split: str):
    def load(source: str) -> list[Sample]:
        return [
            Sample(id=f"gsm8k-{source}-{split}-{i}", prompt=r["question"], answer=r["answer"])
            for i, r in enumerate(_records(split, source))
        ]

    return load
