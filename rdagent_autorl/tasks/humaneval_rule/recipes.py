"""humaneval-rule's recipes for smoke runs (tiny model, CPU): the scripted driver's plan (a FAKE driver
LLM follows it: rdagent_autorl/rdloop/scripted_driver.py) and the example agent's steps."""

from __future__ import annotations

from rdagent_autorl.tasks.rule_recipes import GRPO_SMOKE
from rdagent_autorl.tasks.spec import ExampleStep

# SFT on the canonical solutions, then more of it from the best checkpoint,
# and the example agent's short GRPO run with the unit-test reward.
_SFT_SMOKE = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "max_length": 512,
              "gradient_checkpointing": False, "warmup_ratio": 0.05, "logging_steps": 10}
PLAN = (
    {"hypothesis": "SFT on the canonical solutions of the visible problems teaches the base model to continue a "
                   "function stub with an indented Python body.",
     "method": "SFT warm-up", "template": "sft", "init_from": "base",
     "config": {**_SFT_SMOKE, "learning_rate": 5e-3, "num_train_epochs": 4},
     "rationale": "An untuned model rarely writes a valid body; imitation first.", "expected_gain": "a few points"},
    {"hypothesis": "GRPO with the unit-test reward from the best checkpoint reinforces bodies that pass.",
     "method": "GRPO", "template": "grpo_rule", "init_from": "best",
     "config": {"learning_rate": 1e-4, "max_steps": 10, "num_generations": 4, "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 1, "max_completion_length": 64, "gradient_checkpointing": False,
                "logging_steps": 2},
     "reward_design": "unit tests pass 1.0", "rationale": "RL after an SFT warm-up, as in the paper.",
     "expected_gain": "+0-2 points"},
)
EXAMPLE = (ExampleStep("grpo_rule", "v1", GRPO_SMOKE),)
