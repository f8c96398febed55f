"""webshop-online's recipes for smoke runs (tiny model, the SYNTHETIC smoke catalogue, 2 CPU cores): the
scripted driver's plan (a FAKE driver LLM follows it: rdagent_autorl/rdloop/scripted_driver.py) and the
example agent's steps: an SFT warm-up on the oracle shopper's trajectories, then online GRPO from it."""

from __future__ import annotations

from rdagent_autorl.tasks.spec import ExampleStep

# Measured on 2 cores (tiny model v3, whose tokenizer knows the shop's words): on the 60 goals the smoke level
# had first, 4 epochs left loss 2.2 and bought nothing (0.0), 16 epochs memorised those goals' item ids (loss
# 0.23, 3.9 points); on 300 goals, 5 epochs (375 steps of 4 episodes, 486 s) copy ids from the page: 11.9.
SFT_SMOKE = {"learning_rate": 5e-3, "num_train_epochs": 5, "per_device_train_batch_size": 4,
             "gradient_accumulation_steps": 1, "search_copies": 0, "gradient_checkpointing": False, "logging_steps": 10,
             "collect_workers": 1}
GRPO_SMOKE = {"max_train_samples": 8, "learning_rate": 2e-4, "max_steps": 2, "num_generations": 4,
              "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "max_turns": 8,
              "gradient_checkpointing": False, "logging_steps": 1}
PLAN = (
    {"hypothesis": "SFT on the oracle shopper's trajectories (search with the goal's words, open the product, pick "
                   "the options, buy) teaches the base model WebShop's action format and a route to a purchase.",
     "method": "SFT warm-up on expert trajectories", "template": "sft_trajectories", "init_from": "base",
     "config": SFT_SMOKE,
     "rationale": "The base model never produces a valid action, so it never buys and its reward is 0; imitation "
                  "first, as WebShop's IL baseline.",
     "expected_gain": "from 0 to a partial reward on most goals"},
    {"hypothesis": "Online GRPO from the SFT checkpoint reinforces the sessions whose purchase scores higher.",
     "method": "online GRPO", "template": "grpo_online", "init_from": "best", "config": GRPO_SMOKE,
     "reward_design": "WebShop's reward at Buy Now (0 without a purchase)",
     "rationale": "RL after an SFT warm-up, as WebShop's IL+RL baseline.", "expected_gain": "+0-5 points"},
)
# The example agent: SFT on the expert trajectories, then online GRPO from that checkpoint, each submitted.
EXAMPLE = (ExampleStep("sft_trajectories", "sft", SFT_SMOKE), ExampleStep("grpo_online", "grpo", GRPO_SMOKE, "sft"))
