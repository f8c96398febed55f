"""What every training template does the same way: read its config overrides and data, load the
tokenizer, build an optional LoRA config, and save a complete checkpoint the grader can load.

Kept beside the templates (and imported with a sys.path insert) so each template stays a plain
script that runs by hand: `python templates/sft.py`.
"""

import json
import os
import random
import shutil

import torch
from transformers import AutoConfig, AutoTokenizer


def apply_overrides(config: dict, dry_run: dict) -> dict:
    """AUTORL_CONFIG_JSON updates the CONFIG block (unknown keys are an error, so a typo cannot be
    silently ignored); AUTORL_DRY_RUN=1 shrinks the run to a smoke test that still saves."""
    overrides = json.loads(os.environ.get("AUTORL_CONFIG_JSON") or "{}")
    if unknown := set(overrides) - set(config):
        raise SystemExit(f"AUTORL_CONFIG_JSON: unknown keys {sorted(unknown)}; known: {sorted(config)}")
    config.update(overrides)
    if os.environ.get("AUTORL_DRY_RUN") == "1":
        config.update(dry_run)
    if config.get("bf16") == "auto":  # bf16 on a CUDA GPU that supports it, fp32 on CPU
        config["bf16"] = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    print("CONFIG", json.dumps(config), flush=True)
    print("BASE_MODEL", os.environ.get("BASE_MODEL"), flush=True)  # what this run starts from, for the log's reader
    return config


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
