"""gsm8k-rule: grade-school math with a rule-based reward (final-answer match via math-verify).

The data (data.py) is openai/gsm8k from a local copy or the hub, or seeded synthetic problems in its
format offline; the prompt (protocol.py) asks for '#### <number>'; the scorer extracts the final
answer and compares it with math-verify (rdagent_autorl/scoring/math_answer.py). Train is visible
to agents; test is held out.
"""

from __future__ import annotations

from pathlib import Path

from rdagent_autorl.scoring import math_answer
from rdagent_autorl.tasks.gsm8k_rule import data, protocol, recipes, synthetic
from rdagent_autorl.tasks.spec import Budget, DataSource, Smoke, TaskSpec, completion_scorer

HERE = Path(__file__).resolve().parent

TASK = TaskSpec(
    id="gsm8k-rule",
    level=1,
    title="GSM8K math word problems, rule-based final-answer reward",
    version=2,  # 2: the synthetic held-out problems come from the installation's secret seed
    default_model="Qwen/Qwen2.5-0.5B-Instruct",
    sources=(
        DataSource("local", "openai/gsm8k copy at AUTORL_GSM8K_PATH", data.local_check,
                   selection_size=data.GSM8K_SELECTION),
        DataSource("hub", f"{data.HUB_ID} through datasets", data.hub_check, selection_size=data.GSM8K_SELECTION),
        DataSource("synthetic", "seeded synthetic GSM8K-format problems, 1-2 steps (offline)", auto=False,
                   eval_seed_label=data.EVAL_SEED_LABELS["synthetic"]),
        DataSource("smoke", f"easiest synthetic level: 1 step, numbers <= {data.SMOKE_MAX_NUMBER} (--smoke)",
                   auto=False, selection_size=data.SMOKE_SELECTION, eval_seed_label=data.EVAL_SEED_LABELS["smoke"]),
    ),
    load_train=data.loader("train"),
    load_eval=data.loader("test"),
    scorer=completion_scorer(math_answer.score_math),
    to_prompt=protocol.to_prompt,
    budget=Budget(time_s=2 * 3600, max_new_tokens=512),
    smoke=Smoke(data="smoke", time_s=600, plan=recipes.PLAN, example=recipes.EXAMPLE),
    templates=("sft", "grpo_rule"),
    reward="math",
    protocol_files=(HERE / "protocol.py", Path(math_answer.__file__)),
    tokenizer_text=synthetic.tokenizer_text,
    assets=HERE,
)
