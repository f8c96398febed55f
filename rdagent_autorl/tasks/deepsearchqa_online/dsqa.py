"""The real data: DeepSearchQA (Google DeepMind, arXiv 2601.20975, Apache-2.0), `DSQA-full.csv` of the hub
dataset `google/deepsearchqa` (900 prompts: problem, problem_category, answer, answer_type), or a local
copy named by AUTORL_DEEPSEARCHQA_PATH. A seeded split (AUTORL_DEEPSEARCHQA_SEED, upstream 42) gives the
training prompts agents see and the held-out evaluation prompts (AUTORL_DEEPSEARCHQA_TRAIN_SIZE /
_EVAL_SIZE, upstream autorl_bench 100 / 200); the rest stays unused.
"""

from __future__ import annotations

import csv
import os
import random
from functools import lru_cache
from pathlib import Path

from rdagent_autorl.settings import get_settings
from rdagent_autorl.types import Sample, TaskError

HUB_REPO = "google/deepsearchqa"
HUB_FILE = "DSQA-full.csv"
COLUMNS = ("problem", "problem_category", "answer", "answer_type")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def _hub_file(local_only: bool) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(HUB_REPO, HUB_FILE, repo_type="dataset", local_files_only=local_only))


def check() -> tuple[bool, str]:
    path = get_settings().deepsearchqa_path
    if path is not None:
        path = Path(path).expanduser()
        return (True, "") if path.is_file() else (False, f"AUTORL_DEEPSEARCHQA_PATH={path}: no such file")
    try:
        _hub_file(local_only=True)
        return True, ""
    except Exception:  # huggingface_hub raises several types for "not in the cache"
        if _offline():
            return False, (f"{HUB_FILE} of {HUB_REPO} is not in the HF cache and the hub is offline; set "
                           "AUTORL_DEEPSEARCHQA_PATH to a local copy")
        return True, ""  # downloaded on first use


def csv_path() -> Path:
    ok, why = check()
    if not ok:
        raise TaskError(f"deepsearchqa-online: {why}")
    path = get_settings().deepsearchqa_path
    if path is not None:
        return Path(path).expanduser()
    try:
        return _hub_file(local_only=_offline())
    except Exception as e:
        raise TaskError(f"deepsearchqa-online: cannot get {HUB_FILE} from {HUB_REPO} ({type(e).__name__}: {e}); "
                        "set AUTORL_DEEPSEARCHQA_PATH to a local copy") from e


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TaskError(f"{path} is not DeepSearchQA's CSV: no column(s) {', '.join(missing)}")
        rows = [r for r in reader if (r.get("problem") or "").strip()]
    if not rows:
        raise TaskError(f"{path} holds no problems")
    return rows


@lru_cache(maxsize=4)
def split(path: str, seed: int, n_train: int, n_eval: int) -> dict[str, tuple[Sample, ...]]:
    rows = read_rows(Path(path))
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    if n_train + n_eval > len(rows):
        raise TaskError(f"deepsearchqa-online: {n_train} training + {n_eval} held-out prompts asked, "
                        f"the file has {len(rows)}")
    samples = [Sample(id=f"dsqa-{i:03d}", prompt=rows[i]["problem"].strip(), answer=rows[i]["answer"].strip(),
                      meta={"answer_type": rows[i]["answer_type"].strip(),
                            "problem_category": rows[i]["problem_category"].strip()}) for i in order]
    return {"train": tuple(samples[:n_train]), "eval": tuple(samples[n_train:n_train + n_eval])}


def load(split_name: str) -> list[Sample]:
    s = get_settings()
    return list(split(str(csv_path()), s.deepsearchqa_seed, s.deepsearchqa_train_size,
                      s.deepsearchqa_eval_size)[split_name])
