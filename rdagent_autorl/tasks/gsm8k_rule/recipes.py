"""gsm8k-rule's recipes for smoke runs (tiny model, 2 CPU cores, a few minutes per loop): the scripted
driver's plan (a FAKE driver LLM follows it: rdagent_autorl/rdloop/scripted_driver.py) and the example
agent's steps. Measured with them: see the README's quick start."""

from __future__ import annotations

from rdagent_autorl.tasks.spec import ExampleStep

SFT_SMOKE = {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "max_length": 256,
             "gradient_checkpointing": False, "warmup_ratio": 0.05, "logging_steps": 20}
PLAN = (
    {"hypothesis": "SFT on the reference solutions teaches the base model the solution format and the "
                   "'#### <number>' answer line, which it never produces now.",
     "method": "SFT warm-up", "template": "sft", "init_from": "base",
     "config": {**SFT_SMOKE, "learning_rate": 5e-3, "num_train_epochs": 4},
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
     "config": {"learning_rate": 1e-4, "max_steps": 20, "num_generations": 8, "per_device_train_batch_size": 16,
                "gradient_accumulation_steps": 1, "max_completion_length": 48, "gradient_checkpointing": False,
                "logging_steps": 5},
     "reward_design": "correctness 1.0 + format 0.1", "rationale": "RL after an SFT warm-up, as in the paper.",
     "expected_gain": "+0-2 points"},
)
# The example agent: the GRPO template once, shortened for CPU smoke runs.
GRPO_SMOKE = {"max_steps": 4, "max_train_samples": 16, "num_generations": 4, "per_device_train_batch_size": 8,
              "gradient_accumulation_steps": 1, "max_completion_length": 32, "gradient_checkpointing": False,
              "logging_steps": 1}
EXAMPLE = (ExampleStep("grpo_rule", "v1", GRPO_SMOKE),)
