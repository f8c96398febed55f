"""GRPO (TRL GRPOTrainer) with multi-turn rollouts in the task's environment: every step plays each training
row (a game, a goal) of the batch `num_generations` times with the current policy, rewards an episode with
the environment's reward (ALFWorld: task success; WebShop: its graded purchase reward), and pushes up the
actions of the episodes that did better than their group.

Run by hand:   DATA_PATH=data/train.jsonl BASE_MODEL=base_model OUTPUT_DIR=output TASK_ENV=env/<task>_env.py \
               python templates/grpo_online.py
DATA_PATH:     JSONL rows of an online task's training split, each with a unique "id"; one row = one game or goal.
               Only the environment module reads them (its row_spec), so any online task's rows work.
TASK_ENV:      the task's environment module (common.load_task_env; its interface: rdagent_autorl/envs/protocol.py)
BASE_MODEL:    an SFT warm-up checkpoint (sft_trajectories.py) learns much faster than a model that never won a
               game: a group whose episodes all get the same reward learns nothing
Dry run:       AUTORL_DRY_RUN=1: 2 steps of 2 rows x 2 short episodes, then save as usual.
The contract every template keeps (environment, AUTORL_CONFIG_JSON overrides, `SAVED <path>` last) and
what the shared CONFIG keys mean: common.py.
"""

import copy
import os
import sys

import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer
from trl.models import unwrap_model_for_generation

from rdagent_autorl.generation import cut_at_stop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # common.py sits next to this file
from common import (  # noqa: E402
    apply_overrides, grpo_args, load_task_env, load_tokenizer, lora_config, paths, read_rows, save_checkpoint,
)

# ---- The one block to edit (the shared keys are documented in common.SHARED_CONFIG) -----------------
CONFIG = {
    "learning_rate": 1e-6,  # full fine-tuning; ~1e-5 with LoRA
    "max_steps": 200,  # each step plays a fresh batch of episodes
    "num_generations": 8,  # episodes per game (training row)
    "per_device_train_batch_size": 8,  # episodes (not games) per forward pass
    "gradient_accumulation_steps": 4,  # games per step = batch x accumulation / num_generations
    "max_turns": 20,  # actions per training episode (the grader allows the environment's MAX_STEPS); None = that
    "max_completion_length": 3072,  # tokens of an episode after its first prompt; cut after a whole action
    "temperature": 1.0,
    "beta": 0.0,
    "invalid_action_weight": 0.0,  # shaping: minus this x the share of invalid actions; 0 = the environment's reward only
    "rollout_batch_size": 64,  # episodes decoded together per generate call (transformers generation)
    "use_vllm": False, "vllm_gpu_memory_utilization": 0.3,
    "use_lora": False, "lora_r": 16, "lora_alpha": 32, "gradient_checkpointing": True, "bf16": "auto",
    "seed": 42, "version": "v1", "max_train_samples": None, "logging_steps": 5,  # max_train_samples: GAMES
}
# ------------------------------------------------------------------------------------------------

# AUTORL_CONFIG_JSON overrides; AUTORL_DRY_RUN=1 trains just enough to prove the pipeline works.
CONFIG = apply_overrides(CONFIG, dry_run=dict(
    max_steps=2, max_train_samples=4, num_generations=2, per_device_train_batch_size=4,
    gradient_accumulation_steps=1, max_turns=3, max_completion_length=1024, logging_steps=1, use_vllm=False,
))
DATA_PATH, BASE_MODEL, OUTPUT_DIR = paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")
TASK_ENV = load_task_env()
ACTION_MAX_TOKENS, ACTION_STOP = TASK_ENV.ACTION_MAX_TOKENS, TASK_ENV.ACTION_STOP
# The policy's prompt is the whole episode so far, so ONE multi-turn sequence holds exactly the context
# each action was sampled from. Fewer turns than the grader's MAX_STEPS make rollouts cheaper; a plan
# longer than max_turns cannot be won in training.
MAX_TURNS = CONFIG["max_turns"] or TASK_ENV.MAX_STEPS

# rollout_func only receives the prompts, so the prompt IS the row to play: its id, and the environment
# module says what to reset for it (a game file, a goal).
rows = read_rows(DATA_PATH, CONFIG["max_train_samples"], CONFIG["seed"])
data_dir = os.path.dirname(os.path.abspath(DATA_PATH))  # rows' paths are relative to the data folder
SPECS = {str(r["id"]): TASK_ENV.row_spec(r, data_dir) for r in rows}
if len(SPECS) != len(rows):
    raise SystemExit(f"{DATA_PATH}: the rows' ids are not unique ({len(rows)} rows, {len(SPECS)} ids)")
dataset = Dataset.from_list([{"prompt": str(r["id"])} for r in rows])
# TRL silently trains nothing when one step needs more games than the dataset holds: say so instead.
games_per_step = CONFIG["per_device_train_batch_size"] * CONFIG["gradient_accumulation_steps"] // CONFIG["num_generations"]
if len(rows) < games_per_step:
    raise SystemExit(f"{len(rows)} training games, but one step plays {games_per_step} (per_device_train_batch_size x "
                     "gradient_accumulation_steps / num_generations): use more games or a smaller batch")
tokenizer = load_tokenizer(BASE_MODEL)


def encode(chats):
    """Token ids of each chat prompt, rendered exactly as the grader renders it."""
    texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def hf_policy(trainer):
    """Sample actions from the model being trained (transformers generate), every episode in flight
    in one batch; temperature/top-p/top-k come from the trainer's own generation config."""
    config = copy.deepcopy(trainer.generation_config)  # sized for whole completions; an action is one line
    config.max_new_tokens, config.stop_strings = ACTION_MAX_TOKENS, list(ACTION_STOP)

    def policy(chats):
        batch = tokenizer.pad({"input_ids": encode(chats)}, padding_side="left", return_tensors="pt")
        batch = batch.to(trainer.accelerator.device)
        # Unwrapped (DDP, ZeRO-3) and with activation checkpointing off, so generate keeps its KV cache.
        checkpointing = trainer.args.gradient_checkpointing_kwargs
        unwrapped = unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                                gradient_checkpointing_kwargs=checkpointing)
        with unwrapped as model, torch.no_grad():
            out = model.generate(**batch, generation_config=config, tokenizer=tokenizer)
        replies = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        return [cut_at_stop(r, ACTION_STOP) for r in replies]  # the first line, as the grader cuts it

    return policy


def vllm_policy(trainer):
    """GPU path, NOT RUN in this repository's tests (no GPU, no vLLM here): sample actions from the
    trainer's colocated vLLM engine. TRL pushes the current weights into it before calling the rollout."""
    from vllm import SamplingParams

    params = SamplingParams(temperature=CONFIG["temperature"], max_tokens=ACTION_MAX_TOKENS, stop=list(ACTION_STOP))

    def policy(chats):
        outputs = trainer.vllm_generation.llm.generate([{"prompt_token_ids": ids} for ids in encode(chats)],
                                                       sampling_params=params, use_tqdm=False)
        return [cut_at_stop(o.outputs[0].text, ACTION_STOP) for o in outputs]

    return policy


def cut(completion_ids, env_mask, limit):
    """Keep at most `limit` tokens, ending after the last whole action that fits: the sequence still
    ends with an end-of-turn token (TRL counts a sequence without one as truncated)."""
    if len(completion_ids) <= limit:
        return completion_ids, env_mask
    ends = [i + 1 for i in range(limit) if env_mask[i] and not env_mask[i + 1]]
    end = ends[-1] if ends else limit
    return completion_ids[:end], env_mask[:end]


def rollout(prompts, trainer):
    """TRL's rollout_func. `prompts` is this process's share of the generation batch: each game path
    already repeated num_generations times in a row (the trainer's RepeatSampler), so one episode per
    entry, in order (each prompt is a row id). Each episode becomes ONE sequence: prompt_ids = the first prompt; completion_ids =
    the actions (env_mask 1) and the environment's turns between them (env_mask 0, no loss)."""
    policy = vllm_policy(trainer) if CONFIG["use_vllm"] else hf_policy(trainer)
    episodes = TASK_ENV.protocol_play(lambda: TASK_ENV.make_env(MAX_TURNS), [SPECS[p] for p in prompts], policy,
                                      batch_size=CONFIG["rollout_batch_size"])
    out = {"prompt_ids": [], "completion_ids": [], "env_mask": [], "won": [], "env_reward": [], "invalid_share": []}
    for episode in episodes:
        # Actions are re-tokenized from the episode's text (the parsed action the next prompts show), so
        # the sequence is what the policy saw; sampling logprobs would not line up with it: none returned.
        prompt_ids, completion_ids, env_mask = TASK_ENV.chat_tokens(tokenizer, episode.prompt())
        completion_ids, env_mask = cut(completion_ids, env_mask, CONFIG["max_completion_length"])
        taken = episode.turns[:-1]  # every turn but the last was acted on
        invalid = [TASK_ENV.invalid_action(t) for t in taken]
        out["prompt_ids"].append(prompt_ids)
        out["completion_ids"].append(completion_ids)
        out["env_mask"].append(env_mask)
        out["won"].append(episode.won)
        out["env_reward"].append(float(episode.reward))
        out["invalid_share"].append(sum(invalid) / max(1, len(invalid)))
    n, won = len(episodes), sum(out["won"])
    print(f"ROLLOUT step={trainer.state.global_step} games={len(set(prompts))} episodes={n} won={won} "
          f"success={won / n:.3f} mean_actions={sum(e.steps for e in episodes) / n:.1f} "
          f"invalid_share={sum(out['invalid_share']) / n:.3f} mean_reward={sum(out['env_reward']) / n:.3f}", flush=True)
    # logprobs=None: TRL only reads sampling logprobs for vLLM importance sampling (turned off below).
    return {**out, "logprobs": None}


# Rewards in TRL's signature; `env_reward` and `invalid_share` are the rollout's extra fields, one per episode.
def episode_reward(prompts, completions, env_reward, **kwargs):
    """The environment's reward in [0, 1], the grader's value (ALFWorld: 1.0 for a won game)."""
    return list(env_reward)


def invalid_action_penalty(prompts, completions, invalid_share, **kwargs):
    return [-share for share in invalid_share]


peft_config = lora_config(CONFIG, dropout=0.0)  # LoRA adapters are merged before saving
# The shared arguments (common.grpo_args) plus this template's own: the rewards' weights, and no vLLM importance
# sampling (it needs sampling logprobs; the rollout has none).
own = dict(reward_weights=[1.0, CONFIG["invalid_action_weight"]])
if CONFIG["use_vllm"]:
    own["vllm_importance_sampling_correction"] = False
args = GRPOConfig(**grpo_args(CONFIG, OUTPUT_DIR, **own))
trainer = GRPOTrainer(model=BASE_MODEL, reward_funcs=[episode_reward, invalid_action_penalty], args=args,
                      train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config,
                      rollout_func=rollout)
trainer.train()

save_checkpoint(trainer, tokenizer, BASE_MODEL, OUTPUT_DIR, CONFIG)
