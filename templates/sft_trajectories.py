"""Supervised fine-tuning (TRL SFTTrainer) on expert trajectories collected in the task's environment: every
training row's expert demonstration (ALFWorld: the planner's walkthrough; WebShop: the oracle shopper) is
replayed by the real environment, and the whole episode becomes one training row, tokenized exactly as
the grader's prompts are: the grader's prompt at each step is the episode so far, so one row holds every
step's prompt and the loss falls on the actions only. (One row per decision would re-encode the same
history once per step: on the ALFWorld smoke games, ~310k tokens an epoch (729 decisions, ~420 tokens
each) instead of 75k, for the same loss.)

Run by hand:   DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output TASK_ENV=env/<task>_env.py \
               python templates/sft_trajectories.py
DATA_PATH:     JSONL rows of an online task's training split; one row = one game or goal. Only the environment
               module reads them (its row_spec / demonstration), so any online task's rows work.
TASK_ENV:      the task's environment module (common.load_task_env; its interface: rdagent_autorl/envs/protocol.py)
Dry run:       AUTORL_DRY_RUN=1: 3 rows, 2 optimizer steps, then save as usual.
The contract every template keeps (environment, AUTORL_CONFIG_JSON overrides, `SAVED <path>` last) and
what the shared CONFIG keys mean: common.py.
"""

import multiprocessing
import os
import random
import sys

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py sits next to this file
from common import (  # noqa: E402
    apply_overrides, load_task_env, load_tokenizer, lora_config, paths, read_rows, save_checkpoint, sft_args,
)

# ---- The one block to edit (the shared keys are documented in common.SHARED_CONFIG) -----------------
CONFIG = {
    # Trajectory collection (this template's own); the copies only where the environment module offers
    # them (its renamed_copies, searching_demonstration)
    "renamed_copies": 0,  # extra copies of each episode with its entity names swapped (ALFWorld)
    "search_copies": 0,  # extra copies of each row with wrong guesses / wrong clicks before the right move
    "max_wrong_guesses": 2,  # at most this many wrong moves before each right one in those copies
    "collect_workers": 4,  # processes replaying demonstrations (an ALFWorld game load runs the PDDL translator: ~0.3-1 s)
    # Training
    "learning_rate": 1e-5,  # full fine-tuning; ~1e-4 with LoRA
    "num_train_epochs": 2,
    "max_steps": -1,
    "per_device_train_batch_size": 4,  # episodes per forward pass
    "gradient_accumulation_steps": 2,
    "max_length": 4096,  # tokens of an episode; longer ones are cut at the end (the later actions unlearned)
    "warmup_ratio": 0.03,
    "use_lora": False, "lora_r": 16, "lora_alpha": 32, "gradient_checkpointing": True, "bf16": "auto",
    "seed": 42, "version": "v1", "max_train_samples": None, "logging_steps": 10,  # max_train_samples: ROWS
}
# ------------------------------------------------------------------------------------------------

# AUTORL_CONFIG_JSON overrides; AUTORL_DRY_RUN=1 trains just enough to prove the pipeline works.
CONFIG = apply_overrides(CONFIG, dry_run=dict(
    max_steps=2, max_train_samples=3, per_device_train_batch_size=2,
    gradient_accumulation_steps=1, max_length=1024, warmup_ratio=0.0, logging_steps=1,
))
DATA_PATH, BASE_MODEL, OUTPUT_DIR = paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")

TASK_ENV = load_task_env()
for key, hook in (("search_copies", "searching_demonstration"), ("renamed_copies", "renamed_copies")):
    if CONFIG[key] and not hasattr(TASK_ENV, hook):
        raise SystemExit(f"{key}={CONFIG[key]}, but the task's environment module offers no {hook}(): set it to 0")

# ---- Trajectory collection ---------------------------------------------------------------------
_env = None  # one environment per worker process, reused across its rows


def replay(job):
    """Play one row's expert demonstration in the environment, plus `search_copies` versions of it with
    wrong moves first. The observations and admissible actions come from the environment, not from the
    data file, so each row's prompt is what the policy will really see. Returns [(won, steps, chat)],
    the plain demonstration first."""
    global _env
    row, seed = job
    _env = _env or TASK_ENV.make_env()
    episode = TASK_ENV.demonstration(_env, row, data_dir)
    played = [(episode.won, episode.steps, episode.prompt())]
    rng = random.Random(seed)
    for _ in range(CONFIG["search_copies"]):
        searched = TASK_ENV.searching_demonstration(_env, row, data_dir, rng, CONFIG["max_wrong_guesses"])
        if searched is not None:  # None: this copy would have taught a wrong lesson (the module says why)
            played.append((searched.won, searched.steps, searched.prompt()))
    return played


rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
data_dir = os.path.dirname(os.path.abspath(DATA_PATH))  # rows' paths are relative to the data folder
jobs = [(r, CONFIG["seed"] + i) for i, r in enumerate(rows)]
workers = max(1, min(CONFIG["collect_workers"], len(jobs)))
if workers > 1:  # fork: the workers inherit this script's state; a spawned child would rerun the script
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(replay, jobs, chunksize=4)
else:
    results = [replay(job) for job in jobs]

tokenizer = load_tokenizer(BASE_MODEL)
chats, samples, won, actions = [], [], 0, 0
searches, detour_steps = 0, 0  # searching copies kept, and the actions they add to their walkthroughs
for row, played in zip(rows, results):
    (episode_won, steps, chat), searched = played[0], played[1:]
    if not episode_won:  # a demonstration that does not win in this environment would teach wrong moves
        print(f"SKIPPED {row['id']}: its demonstration did not win ({steps} steps)", flush=True)
        continue
    won, actions = won + 1, actions + steps
    chats.append(chat)
    searched = [(n, c) for w, n, c in searched if w]  # a detour that broke the plan teaches nothing good
    searches += len(searched)
    detour_steps += sum(n - steps for n, _ in searched)
    chats += [c for _, c in searched]
if CONFIG["renamed_copies"]:
    chats += TASK_ENV.renamed_copies(chats, CONFIG["renamed_copies"], random.Random(CONFIG["seed"]))
for chat in chats:  # the same token view grpo_online trains on: mask 1 on the actions and their end-of-turn tokens
    prompt_ids, completion_ids, action_mask = TASK_ENV.chat_tokens(tokenizer, chat)
    samples.append({"input_ids": prompt_ids + completion_ids, "assistant_masks": [0] * len(prompt_ids) + action_mask})
print(f"TRAJECTORIES games={len(rows)} won={won} steps={actions} searches={searches} detour_steps={detour_steps} "
      f"rows={len(samples)}", flush=True)
if not samples:
    raise SystemExit("no winning trajectory to train on")
dataset = Dataset.from_list(samples)  # pre-tokenized: TRL turns assistant_masks into labels (-100 elsewhere)

peft_config = lora_config(CONFIG, dropout=0.05)  # LoRA adapters are merged before saving

args = SFTConfig(**sft_args(CONFIG, OUTPUT_DIR))  # the shared arguments (common.sft_args); the loss mask is the rows'
trainer = SFTTrainer(model=BASE_MODEL, args=args, train_dataset=dataset, processing_class=tokenizer,
                     peft_config=peft_config)
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
