"""Smoke-run settings of the rule-reward templates (sft.py, grpo_rule.py) that several tasks share:
sized for the tiny model on 2 CPU cores (a few minutes per run). gsm8k-rule and humaneval-rule build
their recipes on them, and a custom task folder's smoke plan and example step use them as they are."""

from __future__ import annotations

SFT_SMOKE = {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "max_length": 256,
             "gradient_checkpointing": False, "warmup_ratio": 0.05, "logging_steps": 20}
# One training run of a smoke plan, per template (gsm8k-rule's measured warm-up and GRPO steps).
PLAN_CONFIG = {
    "sft": {**SFT_SMOKE, "learning_rate": 5e-3, "num_train_epochs": 4},
    "grpo_rule": {"learning_rate": 1e-4, "max_steps": 20, "num_generations": 8, "per_device_train_batch_size": 16,
                  "gradient_accumulation_steps": 1, "max_completion_length": 48, "gradient_checkpointing": False,
                  "logging_steps": 5},
}
# The example agent's short GRPO run (a baseline, not a recipe for gains).
GRPO_SMOKE = {"max_steps": 4, "max_train_samples": 16, "num_generations": 4, "per_device_train_batch_size": 8,
              "gradient_accumulation_steps": 1, "max_completion_length": 32, "gradient_checkpointing": False,
              "logging_steps": 1}
EXAMPLE_CONFIG = {"sft": PLAN_CONFIG["sft"], "grpo_rule": GRPO_SMOKE}
