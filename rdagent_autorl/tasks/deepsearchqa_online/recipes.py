"""deepsearchqa-online's recipes for smoke runs (tiny model, smoke questions, 2 CPU cores): the scripted
driver's plan (a FAKE driver LLM follows it: rdagent_autorl/rdloop/scripted_driver.py) and the example
agent's steps: an SFT warm-up on the expert hop chains, then online GRPO from it (reward = the F1 of the
same metric, FAKE set-match judge)."""

from __future__ import annotations

from rdagent_autorl.tasks.spec import ExampleStep

SMOKE_TIME_S = 2700  # the measured smoke run (base grade, SFT, grade, GRPO, grade) took 658 s
PLAN = (
    {"hypothesis": "SFT on the expert trajectories (the generator's hop chains replayed as searches and opens in "
                   "the tool environment, then the answer) teaches the base model the tool-call format and to "
                   "copy descriptions into searches and doc ids into opens.",
     "method": "SFT warm-up on expert trajectories", "template": "sft_trajectories", "init_from": "base",
     # Measured on 2 CPU cores, tiny model v3 (~880 tokens an episode): 600 optimizer steps of 4 episodes,
     # 590 s, loss 8.0 -> 2.8, valid tool calls learned, F1 6.7 (two questions answered "Earth", a frequent
     # answer of the training chains, not found by following the chain); 225 steps of 8 left loss 3.3, F1 0.0
     "config": {"max_train_samples": None, "learning_rate": 5e-3, "num_train_epochs": 4,
                "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "gradient_checkpointing": False,
                "logging_steps": 6, "collect_workers": 1, "max_length": 4096},
     "rationale": "The base model never produces a valid tool call; imitation first, as in the paper.",
     "expected_gain": "from ~0 to a few F1 points"},
    {"hypothesis": "Online GRPO from the SFT checkpoint, rewarded by the episode's F1, reinforces the episodes "
                   "that reach (part of) the answer set.",
     "method": "online GRPO", "template": "grpo_online", "init_from": "best",
     "config": {"max_train_samples": 16, "learning_rate": 2e-4, "max_steps": 2, "num_generations": 4,
                "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 1, "gradient_checkpointing": False, "logging_steps": 1,
                "max_turns": 6},
     "reward_design": "F1 of the final answer (DeepSearchQA metric, FAKE set-match judge)",
     "rationale": "RL after an SFT warm-up, as in the paper.", "expected_gain": "+0-2 points"},
)
SFT_SMOKE = {"max_train_samples": 32, "learning_rate": 3e-3, "num_train_epochs": 2, "per_device_train_batch_size": 8,
             "gradient_accumulation_steps": 1, "gradient_checkpointing": False, "logging_steps": 5,
             "collect_workers": 1}
GRPO_SMOKE = {"max_train_samples": 8, "learning_rate": 2e-4, "max_steps": 2, "num_generations": 4,
              "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "gradient_checkpointing": False,
              "logging_steps": 1, "max_turns": 6}
EXAMPLE = (ExampleStep("sft_trajectories", "sft", SFT_SMOKE), ExampleStep("grpo_online", "grpo", GRPO_SMOKE, "sft"))
