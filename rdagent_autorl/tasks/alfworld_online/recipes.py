"""alfworld-online's recipes for smoke runs (tiny model, smoke games, 2 CPU cores): the scripted driver's
plan (a FAKE driver LLM follows it: rdagent_autorl/rdloop/scripted_driver.py) and the example agent's
steps: an SFT warm-up on the planner's trajectories, then online GRPO from it."""

from __future__ import annotations

from rdagent_autorl.tasks.spec import ExampleStep

PLAN = (
    {"hypothesis": "SFT on the expert trajectories (planner walkthroughs replayed in the engine) teaches the "
                   "base model to answer with one admissible action that moves towards the goal.",
     "method": "SFT warm-up on expert trajectories", "template": "sft_trajectories", "init_from": "base",
     # benchmarks/alfworld_sft_grpo.py's recipe (measured there: 0.0 -> 30.0 on the held-out smoke games)
     "config": {"learning_rate": 3e-3, "num_train_epochs": 8, "per_device_train_batch_size": 4,
                "gradient_accumulation_steps": 1, "search_copies": 2, "renamed_copies": 1,
                "gradient_checkpointing": False, "logging_steps": 60, "collect_workers": 2},
     "rationale": "The base model never produces a valid action; imitation first, as in the paper. The "
                  "planner knows where things are, so copies with wrong guesses teach searching.",
     "expected_gain": "from ~0 to about a third of the games"},
    {"hypothesis": "Online GRPO from the SFT checkpoint reinforces the episodes that reach the goal.",
     "method": "online GRPO", "template": "grpo_online", "init_from": "best",
     "config": {"learning_rate": 2e-4, "max_steps": 6, "num_generations": 4, "per_device_train_batch_size": 16,
                "gradient_accumulation_steps": 1, "gradient_checkpointing": False, "logging_steps": 1},
     "reward_design": "task success 1.0", "rationale": "RL after an SFT warm-up, as in the paper.",
     "expected_gain": "+0-5 points"},
)
SFT_SMOKE = {"max_train_samples": 24, "learning_rate": 3e-3, "num_train_epochs": 2, "per_device_train_batch_size": 16,
             "gradient_accumulation_steps": 1, "gradient_checkpointing": False, "logging_steps": 5,
             "collect_workers": 2}
GRPO_SMOKE = {"max_train_samples": 8, "learning_rate": 2e-4, "max_steps": 2, "num_generations": 4,
              "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "gradient_checkpointing": False,
              "logging_steps": 1}
# The example agent: SFT on the expert trajectories, then online GRPO from that checkpoint, each submitted.
EXAMPLE = (ExampleStep("sft_trajectories", "sft", SFT_SMOKE), ExampleStep("grpo_online", "grpo", GRPO_SMOKE, "sft"))
