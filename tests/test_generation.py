"""The hf generation backend on the tiny model, the helpers every backend shares, and what every
backend tells a solver (preferred batch size, prefix-cache session, model identity)."""

from __future__ import annotations

import json
import shutil

import pytest

from rdagent_autorl.generation import load_backend, model_identity
from rdagent_autorl.generation.text import cut_at_stop, render_prompt


def test_cut_at_stop_takes_the_earliest_stop():
    assert cut_at_stop("a\ndef b\n#c", ["\n#", "\ndef "]) == "a"
    assert cut_at_stop("no stop", ["\n#"]) == "no stop"
    assert cut_at_stop("x", []) == "x"


def test_render_prompt_uses_the_chat_template_when_present(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    text, templated = render_prompt([{"role": "user", "content": "hi"}], tok)
    assert templated and "<|im_start|>user" in text and text.rstrip().endswith("<|im_start|>assistant")
    assert render_prompt("def f():", tok) == ("def f():", False)
    tok.chat_template = None
    assert render_prompt([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], tok) == ("s\n\nu\n", False)


@pytest.fixture(scope="module")
def hf(tiny_model):
    return load_backend("hf", tiny_model, device="cpu", batch_size=4)


PROMPTS = ["def add(a, b):\n", [{"role": "user", "content": "What is 2 plus 3?"}], "Tom has 3 apples.",
           [{"role": "user", "content": "Natalia sold clips to 48 of her friends in April."}], "x = 1\n"]


def test_batched_generation_equals_one_at_a_time(hf):
    batched = hf.generate(PROMPTS, max_new_tokens=12)
    sequential = [hf.generate([p], max_new_tokens=12)[0] for p in PROMPTS]
    assert batched == sequential
    assert len(batched) == len(PROMPTS) and all(isinstance(t, str) for t in batched)


def test_stop_strings_cut_the_output(hf):
    free = hf.generate(PROMPTS[:1], max_new_tokens=24)[0]
    assert len(free) > 2
    stop = free[1:3]  # a stop string that certainly occurs in the unconstrained output
    stopped = hf.generate(PROMPTS[:1], max_new_tokens=24, stop=[stop])[0]
    assert stop not in stopped and free.startswith(stopped)


def test_unknown_backend():
    with pytest.raises(ValueError, match="choose from: hf, vllm, openai"):
        load_backend("tgi", "x")


def test_shared_system_prompt_is_computed_once_and_changes_nothing(hf, monkeypatch):
    """gsm8k prompts share the system prompt: the batch reuses its KV cache, outputs stay the same."""
    import rdagent_autorl.generation.hf as hf_module
    from rdagent_autorl.tasks import get_task

    task = get_task("gsm8k-rule")
    prompts = [task.prompt(s) for s in task.heldout("synthetic")[:6]]
    used = []
    real = hf.__class__._batch_inputs
    monkeypatch.setattr(hf.__class__, "_batch_inputs", lambda self, enc: used.append(real(self, enc)[1]) or real(self, enc))
    shared = hf.generate(prompts, max_new_tokens=10)
    assert used and all(cache is not None for cache in used)

    monkeypatch.setattr(hf_module, "MIN_SHARED_PREFIX", 10**9)  # the plain left-padded path
    used.clear()
    assert hf.generate(prompts, max_new_tokens=10) == shared and all(cache is None for cache in used)
    assert [hf.generate([p], max_new_tokens=10)[0] for p in prompts] == shared


def test_every_backend_offers_what_a_solver_asks_for():
    """The GenerationBackend protocol's members, on each class (vLLM's too, without importing vLLM)."""
    from rdagent_autorl.generation.hf import HFBackend
    from rdagent_autorl.generation.openai_backend import OpenAIBackend
    from rdagent_autorl.generation.vllm_backend import VLLMBackend

    for cls in (HFBackend, VLLMBackend, OpenAIBackend):
        assert all(callable(getattr(cls, m, None)) for m in ("generate", "prefix_cache_session", "identity")), cls
    assert VLLMBackend.preferred_batch_size is None and OpenAIBackend.preferred_batch_size is None
    with VLLMBackend.prefix_cache_session(object.__new__(VLLMBackend), 10_000) as same:  # a no-op: vLLM caches itself
        assert isinstance(same, VLLMBackend)


def test_hf_prefers_the_rollout_batch_size(tiny_model, monkeypatch):
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_ROLLOUT_BATCH_SIZE", "7")
    get_settings.cache_clear()
    assert load_backend("hf", tiny_model, device="cpu").preferred_batch_size == 7
    assert load_backend("hf", tiny_model, device="cpu", preferred_batch_size=3).preferred_batch_size == 3


def test_checkpoint_identity_follows_content(hf, tiny_model, tmp_path):
    identity = hf.identity()
    assert identity.startswith("sha256:") and identity == model_identity("hf", tiny_model) == model_identity("vllm", tiny_model)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert model_identity("hf", copy) == identity  # content, not the path
    config = (copy / "generation_config.json").read_text()
    (copy / "generation_config.json").write_text(json.dumps({**json.loads(config), "max_new_tokens": 3}))
    assert model_identity("hf", copy) != identity  # it decides what the checkpoint generates: part of it
    (copy / "generation_config.json").write_text(config)
    assert model_identity("hf", copy) == identity
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    assert model_identity("hf", copy) != identity
    with pytest.raises(FileNotFoundError, match="no weight files"):
        model_identity("hf", tmp_path)
    with pytest.raises(ValueError, match="choose from"):
        model_identity("tgi", copy)

