"""Supervised fine-tuning (TRL SFTTrainer) on expert trajectories collected in the ALFWorld engine: every
training game's planner walkthrough is replayed by the real environment, and the whole episode becomes
one training row, tokenized exactly as the grader's prompts are: the grader's prompt at each step is the
episode so far, so one row holds every step's prompt and the loss falls on the actions only. (One row
per decision would re-encode the same history once per step: on the smoke games, ~310k tokens an
epoch (729 decisions, ~420 tokens each) instead of 75k, for the same loss.)

Run by hand:   DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output python templates/sft_trajectories.py
DATA_PATH:     JSONL rows {"id", "prompt" (the goal), "answer", "game" (the game file, relative to the folder of
               DATA_PATH), "task_type", "walkthrough" (the planner's actions)}; one row = one training game
Dry run:       AUTORL_DRY_RUN=1: 3 games, 2 optimizer steps, then save as usual.
The contract every template keeps (environment, AUTORL_CONFIG_JSON overrides, `SAVED <path>` last) and
what the shared CONFIG keys mean: common.py.
"""

import multiprocessing
import os
import random
import re
import sys

from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from rdagent_autorl.tasks.alfworld_online.env import AlfworldEnv, chat_tokens, expert_episode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py sits next to this file
from common import apply_overrides, load_tokenizer, lora_config, paths, read_rows, save_checkpoint, sft_args  # noqa: E402

# ---- The one block to edit (the shared keys are documented in common.SHARED_CONFIG) -----------------
CONFIG = {
    # Trajectory collection (this template's own)
    "renamed_copies": 0,  # extra copies of each episode with its entity names swapped (see rename_entities)
    "search_copies": 0,  # extra copies of each game with wrong guesses before each search (see searching_episode)
    "max_wrong_guesses": 2,  # at most this many wrong places visited before each search in those copies
    "collect_workers": 4,  # processes replaying walkthroughs (each game load runs the PDDL translator: ~0.3-1 s)
    # Training
    "learning_rate": 1e-5,  # full fine-tuning; ~1e-4 with LoRA
    "num_train_epochs": 2,
    "max_steps": -1,
    "per_device_train_batch_size": 4,  # episodes per forward pass
    "gradient_accumulation_steps": 2,
    "max_length": 4096,  # tokens of an episode; longer ones are cut at the end (the later actions unlearned)
    "warmup_ratio": 0.03,
    "use_lora": False, "lora_r": 16, "lora_alpha": 32, "gradient_checkpointing": True, "bf16": "auto",
    "seed": 42, "version": "v1", "max_train_samples": None, "logging_steps": 10,  # max_train_samples: GAMES
}
# ------------------------------------------------------------------------------------------------

# AUTORL_CONFIG_JSON overrides; AUTORL_DRY_RUN=1 trains just enough to prove the pipeline works.
CONFIG = apply_overrides(CONFIG, dry_run=dict(
    max_steps=2, max_train_samples=3, per_device_train_batch_size=2,
    gradient_accumulation_steps=1, max_length=1024, warmup_ratio=0.0, logging_steps=1,
))
DATA_PATH, BASE_MODEL, OUTPUT_DIR = paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")

# ---- Trajectory collection ---------------------------------------------------------------------
_env = None  # one engine per worker process, reused across its games


def searching_episode(env, game_file, walkthrough, rng):
    """The walkthrough with wrong guesses before each search: before going to the place an object is taken
    from, go to 1..max_wrong_guesses other places not visited yet (opening them when closed) and find it
    is not there. The planner knows where everything is; the policy does not: a model trained on plans
    alone has never seen a wrong guess, and after its first one it is out of its training data.
    None when a wrong guess would show the object after all (the copy would teach walking past it)."""
    episode = env.reset(game_file)
    visited = set()
    for i, action in enumerate(walkthrough):
        place = action[len("go to "):] if action.startswith("go to ") else ""
        taken = next((a.split(" from ")[0][len("take "):] for a in walkthrough[i + 1:i + 3]
                      if a.startswith("take ") and a.endswith(f" from {place}")), "") if place else ""
        if taken:  # a search: the plan goes straight to where `taken` is
            others = [a for a in episode.turns[-1].admissible
                      if a.startswith("go to ") and a != action and a[len("go to "):] not in visited]
            for guess in rng.sample(others, min(len(others), rng.randint(1, CONFIG["max_wrong_guesses"]))):
                env.step(guess)
                wrong_place = guess[len("go to "):]
                if f"open {wrong_place}" in episode.turns[-1].admissible:
                    env.step(f"open {wrong_place}")
                visited.add(wrong_place)
                if re.search(rf"\b{taken.rsplit(' ', 1)[0]} \d", episode.turns[-1].observation):
                    return None
        if place:
            visited.add(place)
        if episode.done:
            break
        env.step(action)
    return episode


def replay(job):
    """Play one game's walkthrough in the engine, plus `search_copies` versions of it with wrong guesses.
    The observations and admissible actions come from the engine, not from the data file, so each row's
    prompt is what the policy will really see. Returns [(won, steps, chat)], the plain walkthrough first."""
    global _env
    game_file, walkthrough, seed = job
    _env = _env or AlfworldEnv()
    episode = expert_episode(_env, game_file, walkthrough)
    played = [(episode.won, episode.steps, episode.prompt())]
    rng = random.Random(seed)
    for _ in range(CONFIG["search_copies"]):
        if (searched := searching_episode(_env, game_file, walkthrough, rng)) is not None:
            played.append((searched.won, searched.steps, searched.prompt()))
    return played


ENTITY = re.compile(r"\b([a-z]+) \d+\b")  # "kettle 1", "cabinet 2": how the engine names things


def rename_entities(chat, names, rng):
    """A copy of an episode with every entity class renamed consistently (kettle -> vase, everywhere:
    goal, observations, admissible lists, actions). The words are no longer guessable from the task, so
    the model has to copy names from its context instead of recalling the ones it saw in training:
    small models otherwise learn "take <a usual object>" rather than "take <the object here>"."""
    text = "\n".join(m["content"] for m in chat)
    seen = sorted({m.group(1) for m in ENTITY.finditer(text)})
    mapping = dict(zip(seen, rng.sample(names, len(seen))))
    swap = re.compile(r"\b(" + "|".join(map(re.escape, seen)) + r")\b")
    return [{**m, "content": swap.sub(lambda w: mapping[w.group(1)], m["content"])} for m in chat]


rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
data_dir = os.path.dirname(os.path.abspath(DATA_PATH))  # "game" paths are relative to the data folder
jobs = [(os.path.join(data_dir, r["game"]), r["walkthrough"], CONFIG["seed"] + i) for i, r in enumerate(rows)]
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
    if not episode_won:  # a plan that does not win in this engine would teach wrong moves
        print(f"SKIPPED {row['id']}: its walkthrough did not win ({steps} steps)", flush=True)
        continue
    won, actions = won + 1, actions + steps
    chats.append(chat)
    searched = [(n, c) for w, n, c in searched if w]  # a detour that broke the plan teaches nothing good
    searches += len(searched)
    detour_steps += sum(n - steps for n, _ in searched)
    chats += [c for _, c in searched]
names = sorted({m.group(1) for chat in chats for msg in chat for m in ENTITY.finditer(msg["content"])})
rng = random.Random(CONFIG["seed"])
chats += [rename_entities(chat, names, rng) for chat in chats for _ in range(CONFIG["renamed_copies"])]
for chat in chats:  # the same token view grpo_online trains on: mask 1 on the actions and their end-of-turn tokens
    prompt_ids, completion_ids, action_mask = chat_tokens(tokenizer, chat)
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
