"""The frame every training template shares: the contract it keeps, the CONFIG keys it shares with the
others, and the code that is the same in all of them (config overrides, paths, data, tokenizer, LoRA,
the trainer's arguments, saving a checkpoint the grader can load).

Kept beside the templates (and imported with a sys.path insert) so each template stays a plain
script that runs by hand, top to bottom: `DATA_PATH=... BASE_MODEL=... OUTPUT_DIR=... python templates/sft.py`.

The contract every template (and every edit of one) keeps:
Environment:   DATA_PATH    JSONL training rows ({"id", "prompt", "answer", task extras}; each template
                            says what it reads from them)
               BASE_MODEL   folder of the model to start from (read-only)
               OUTPUT_DIR   the checkpoint goes to $OUTPUT_DIR/<CONFIG["version"]>
               TASK_REWARD  grpo_rule.py only: the task's reward, a name in rewards.REWARDS
               TASK_ENV     the online templates only: the task's environment module, a file
                            (<workspace>/env/<name>.py, what the workspace sets) or a module name
                            (rdagent_autorl.tasks.alfworld_online.env); the functions it exposes:
                            rdagent_autorl/envs/protocol.py's docstring (load_task_env)
Overrides:     AUTORL_CONFIG_JSON='{"use_lora": true, "learning_rate": 1e-4}' updates the CONFIG block
               (unknown keys are an error, so a typo cannot be silently ignored).
               AUTORL_DRY_RUN=1: 2 optimizer steps on a few rows (each template says how few), then save
               as usual: the coder's check that the pipeline works.
Logs:          trainer metrics as `{'loss': ...}` lines on stdout (the runner reads the trend from them).
Last line of stdout: `SAVED <path>` (a full model + tokenizer, safetensors, LoRA already merged).

CONFIG: each template has ONE `CONFIG = {...}` literal at the top level that holds ALL its keys and their
defaults (the loop writes overrides into that literal). The keys below mean the same in every template
that has them, so they are documented here once; a template comments only what is its own.
"""

import importlib
import importlib.util
import json
import os
import random
import shutil
import sys

import torch
from transformers import AutoConfig, AutoTokenizer

SHARED_CONFIG = {
    # Every template.
    "learning_rate": "peak learning rate (full fine-tuning of a ~0.5-1.5B model: ~1e-5 for SFT, ~1e-6 for "
                     "RL, which drifts fast; LoRA wants ~10x more)",
    "max_steps": "optimizer steps; in the SFT templates -1 = as many as num_train_epochs takes, > 0 overrides it",
    "per_device_train_batch_size": "rows per forward pass (SFT: examples or episodes; GRPO: completions or "
                                   "episodes, not prompts or games)",
    "gradient_accumulation_steps": "forward passes per optimizer step: effective batch = batch size x accumulation",
    "use_lora": "train small LoRA adapters (less memory) instead of every weight; they are merged before saving",
    "lora_r": "LoRA rank (with use_lora)",
    "lora_alpha": "LoRA scaling (with use_lora)",
    "gradient_checkpointing": "recompute activations in the backward pass: less memory, ~20% slower",
    "bf16": '"auto" = bf16 on a CUDA GPU that supports it, fp32 on CPU; or True / False',
    "seed": "seeds the trainer and the max_train_samples subset (AUTORL_SEED, a run's seed, replaces the default)",
    "version": "the checkpoint's folder name under OUTPUT_DIR (the loop names it)",
    "max_train_samples": "None = every training row (online tasks: every game or goal); an int keeps a random subset",
    "logging_steps": "log the trainer metrics every this many optimizer steps",
    # The SFT templates (sft.py, sft_trajectories.py).
    "num_train_epochs": "passes over the training rows (unless max_steps > 0)",
    "max_length": "tokens per training row; longer rows are cut at the end",
    "warmup_ratio": "fraction of the steps spent ramping the learning rate up from 0 (cosine decay after)",
    # The GRPO templates (grpo_rule.py, grpo_online.py).
    "num_generations": "group size: completions (or episodes) per prompt (or game), compared with each other",
    "max_completion_length": "tokens of a completion (an episode after its first prompt); longer ones are cut",
    "temperature": "sampling temperature: groups need diverse completions to learn from",
    "beta": "KL penalty to the base model; 0 skips loading a reference model",
    "use_vllm": "GPU only: generate with vLLM colocated in this process (much faster)",
    "vllm_gpu_memory_utilization": "share of the GPU's memory vLLM may take (with use_vllm)",
}


# The dry run of the single-turn GRPO templates (grpo_rule.py, grpo_judge.py): tiny groups, 2 steps.
GRPO_DRY_RUN = dict(max_steps=2, max_train_samples=4, num_generations=4, per_device_train_batch_size=4,
                    gradient_accumulation_steps=1, max_completion_length=24, logging_steps=1, use_vllm=False)


def apply_overrides(config: dict, dry_run: dict) -> dict:
    """AUTORL_CONFIG_JSON updates the CONFIG block (unknown keys are an error, so a typo cannot be
    silently ignored); AUTORL_DRY_RUN=1 shrinks the run to a smoke test that still saves."""
    overrides = json.loads(os.environ.get("AUTORL_CONFIG_JSON") or "{}")
    if unknown := set(overrides) - set(config):
        raise SystemExit(f"AUTORL_CONFIG_JSON: unknown keys {sorted(unknown)}; known: {sorted(config)}")
    # A run's seed (bench --seed, a sweep's cell) reaches every template here; an explicit override wins.
    if os.environ.get("AUTORL_SEED") and "seed" in config and "seed" not in overrides:
        config["seed"] = int(os.environ["AUTORL_SEED"])
    config.update(overrides)
    if os.environ.get("AUTORL_DRY_RUN") == "1":
        config.update(dry_run)
    if config.get("bf16") == "auto":  # bf16 on a CUDA GPU that supports it, fp32 on CPU
        config["bf16"] = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    print("CONFIG", json.dumps(config), flush=True)
    print("BASE_MODEL", os.environ.get("BASE_MODEL"), flush=True)  # what this run starts from, for the log's reader
    return config


def paths(*names: str) -> list[str]:
    """The values of the contract's environment variables (the template names the ones it reads);
    one that is not set stops the script with the way to run it."""
    if missing := [name for name in names if not os.environ.get(name)]:
        raise SystemExit(f"{', '.join(missing)} not set: run a template as DATA_PATH=<rows.jsonl> "
                         "BASE_MODEL=<model folder> OUTPUT_DIR=<folder> python <template>.py (see common.py)")
    return [os.environ[name] for name in names]


# What every task environment module offers the online templates (the contract: envs/protocol.py's docstring).
TASK_ENV_INTERFACE = ("MAX_STEPS", "ACTION_MAX_TOKENS", "ACTION_STOP", "chat_tokens", "protocol_play", "make_env", "row_spec",
                      "demonstration", "invalid_action")


def load_task_env():
    """The task's environment module named by $TASK_ENV: a .py file (the workspace's env/ copy, loaded by
    path, so it needs no package) or an importable module name. It must offer TASK_ENV_INTERFACE."""
    name = os.environ.get("TASK_ENV", "")
    if not name:
        raise SystemExit("TASK_ENV not set: the online templates play the task's environment module; the workspace "
                         "sets it (env/<task>_env.py), by hand name a file or a module, e.g. "
                         "TASK_ENV=rdagent_autorl.tasks.alfworld_online.env")
    if name.endswith(".py"):
        path = os.path.abspath(name)
        if not os.path.isfile(path):
            raise SystemExit(f"TASK_ENV={name}: no such file")
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            raise SystemExit(f"TASK_ENV={name}: cannot import it ({e})") from e
    if missing := [n for n in TASK_ENV_INTERFACE if not hasattr(module, n)]:
        raise SystemExit(f"TASK_ENV={name} lacks {', '.join(missing)} (the online templates' interface: "
                         "rdagent_autorl/envs/protocol.py)")
    print("TASK_ENV", name, flush=True)
    return module


def read_rows(path: str, max_samples, seed: int) -> list:
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if max_samples:
        rows = random.Random(seed).sample(rows, min(max_samples, len(rows)))
    return rows


def load_tokenizer(base_model: str):
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:  # batching needs a pad token; EOS is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def lora_config(config: dict, dropout: float):
    if not config["use_lora"]:
        return None
    from peft import LoraConfig

    return LoraConfig(r=config["lora_r"], lora_alpha=config["lora_alpha"], lora_dropout=dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def trainer_args(config: dict, output_dir: str, **own) -> dict:
    """Keyword arguments for TRL's SFTConfig / GRPOConfig from the keys every template shares, plus the
    template's `own` arguments (which win over these, so an edit can change any of them)."""
    shared = dict(
        output_dir=os.path.join(output_dir, f".{config['version']}-trainer"),  # trainer state, not a checkpoint
        learning_rate=config["learning_rate"],
        max_steps=config["max_steps"],
        per_device_train_batch_size=config["per_device_train_batch_size"],
        gradient_accumulation_steps=config["gradient_accumulation_steps"],
        activation_checkpointing=config["gradient_checkpointing"],  # the new name of gradient_checkpointing
        bf16=config["bf16"],
        seed=config["seed"],
        logging_steps=config["logging_steps"],
        save_strategy="no",  # one final save (save_checkpoint); intermediate checkpoints only cost disk and time
        report_to="none",
        disable_tqdm=True,  # plain `{'loss': ...}` lines on stdout, readable in a captured log
    )
    return {**shared, **own}


def sft_args(config: dict, output_dir: str, **own) -> dict:
    """trainer_args plus the SFT templates' keys (epochs, row length, warm-up then cosine decay)."""
    sft = dict(num_train_epochs=config["num_train_epochs"], max_length=config["max_length"], lr_scheduler_type="cosine",
               warmup_steps=config["warmup_ratio"])  # transformers reads a float < 1 as a fraction of all steps
    return trainer_args(config, output_dir, **{**sft, **own})


def grpo_args(config: dict, output_dir: str, **own) -> dict:
    """trainer_args plus the GRPO templates' keys (groups, sampling, KL, vLLM generation)."""
    grpo = dict(num_generations=config["num_generations"], max_completion_length=config["max_completion_length"],
                temperature=config["temperature"], beta=config["beta"])
    if config["use_vllm"]:  # colocate: vLLM shares this process and GPU, no separate server to start
        grpo.update(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=config["vllm_gpu_memory_utilization"])
    return trainer_args(config, output_dir, **{**grpo, **own})


def save_checkpoint(trainer, tokenizer, base_model: str, output_dir: str, config: dict) -> str:
    """A complete, self-contained checkpoint at OUTPUT_DIR/<version> (LoRA merged, the base model's
    dtype), written aside and renamed so a crash never leaves half a checkpoint. Prints `SAVED <path>`."""
    version_dir = os.path.join(output_dir, config["version"])
    model = trainer.model
    if config["use_lora"]:
        model = model.merge_and_unload()
    model = model.to(AutoConfig.from_pretrained(base_model).dtype or torch.float32)
    model.config.use_cache = True  # gradient checkpointing turns the KV cache off; generation wants it
    tmp_dir = version_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    model.save_pretrained(tmp_dir)
    tokenizer.save_pretrained(tmp_dir)
    shutil.rmtree(version_dir, ignore_errors=True)
    os.replace(tmp_dir, version_dir)
    shutil.rmtree(trainer.args.output_dir, ignore_errors=True)  # trainer state, not a checkpoint
    print(f"SAVED {os.path.abspath(version_dir)}", flush=True)
    return version_dir
