"""gsm8k-rule's recipes for smoke runs (tiny model, 2 CPU cores, a few minutes per loop): the scripted
driver's plan (a FAKE driver LLM follows it: rdagent_autorl/rdloop/scripted_driver.py) and the example
agent's steps. Measured with them: see the README's quick start."""

from __future__ import annotations

from rdagent_autorl.tasks.rule_recipes import GRPO_SMOKE, PLAN_CONFIG, SFT_SMOKE
from rdagent_autorl.tasks.spec import ExampleStep

PLAN = (
    {"hypothesis": "SFT on the reference solutions teaches the base model the solution format and the "
                   "'#### <number>' answer line, which it never produces now.",
     "method": "SFT warm-up", "template": "sft", "init_from": "base",
     "config": PLAN_CONFIG["sft"],
     "rationale": "A randomly initialised or untuned model scores ~0; imitation is the fastest first gain.",
     "expected_gain": "a few points"},
    {"hypothesis": "Continuing SFT from the best checkpoint at a lower learning rate keeps reducing the "
                   "loss on the solution steps and turns more equations into correct answers.",
     "method": "SFT (continued)", "template": "sft", "init_from": "best",
     "config": {**SFT_SMOKE, "learning_rate": 2e-3, "num_train_epochs": 4},
     "rationale": "The warm-up's loss was still falling when it stopped.", "expected_gain": "+1-3 points"},
    {"hypothesis": "GRPO with the correctness reward from the best checkpoint reinforces the answers it "
                   "already gets right sometimes.",
     "method": "GRPO", "template": "grpo_rule", "init_from": "best",
     "config": PLAN_CONFIG["grpo_rule"],
     "reward_design": "correctness 1.0 + format 0.1", "rationale": "RL after an SFT warm-up, as in the paper.",
     "expected_gain": "+0-2 points"},
)
# The example agent: the GRPO template once, shortened for CPU smoke runs.
EXAMPLE = (ExampleStep("grpo_rule", "v1", GRPO_SMOKE),)
