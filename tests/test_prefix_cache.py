"""The hf backend's prefix cache across generate() calls: greedy outputs and logits stay those of a
cache-off backend, while multi-turn prompts reuse their earlier turns' keys and values."""

from __future__ import annotations

import copy

import pytest
import torch

from rdagent_autorl.generation.hf import HFBackend

SYSTEM = "You are in the middle of a room. Your task is to: put a clean apple in the fridge."
OBSERVATIONS = ["You arrive at cabinet 1. The cabinet 1 is closed.", "Nothing happens.",
                "You open the fridge 1. In it, you see a lettuce 1 and a tomato 2.",
                "You pick up the apple 1 from the countertop 2.", "On the sinkbasin 1, you see a sponge 3."]


@pytest.fixture(scope="module")
def backends(tiny_model):
    """A cache-on and a cache-off backend; each records every step's logits of every batch, the most
    sensitive check that reused keys and values are those a full prefill would compute."""
    made = {}
    for name, tokens in (("on", 100_000), ("off", 0)):
        backend = HFBackend(tiny_model, device="cpu", batch_size=8, prefix_cache_tokens=tokens)
        backend.logits = []
        real = backend.model.generate

        def spy(*args, generation_config, _real=real, _backend=backend, **kwargs):
            config = copy.deepcopy(generation_config)
            config.output_logits = config.return_dict_in_generate = True
            out = _real(*args, generation_config=config, **kwargs)
            _backend.logits.append(torch.stack(out.logits))
            return out.sequences

        backend.model.generate = spy
        made[name] = backend
    return made


@pytest.fixture()
def on(backends):
    backend = backends["on"]
    backend._prefix_store.clear()
    backend.prefix_cache_tokens, backend.batch_size = 100_000, 8
    backend.logits, backend.prefix_cache_hits, backend.prefilled_tokens = [], 0, 0
    return backend


@pytest.fixture()
def off(backends):
    backend = backends["off"]
    backend.batch_size, backend.logits, backend.prefilled_tokens = 8, [], 0
    return backend


def chat(i: int) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": OBSERVATIONS[i % 5] * (1 + i % 3)}]


def transcript(i: int) -> str:
    """A plain-text prompt (no chat template) whose greedy continuation depends on its last words."""
    return f"Observation {i}: {OBSERVATIONS[(i + 2) % 5]}\n> take apple {i}"


def grow(prompts: list, replies: list[str], turn: int) -> None:
    """One more turn, appended as the ALFWorld grader does: the reply and a new observation."""
    for k, (prompt, reply) in enumerate(zip(prompts, replies)):
        observation = OBSERVATIONS[(turn + k) % 5]
        if isinstance(prompt, list):
            prompt += [{"role": "assistant", "content": reply.strip() or "look"}, {"role": "user", "content": observation}]
        else:
            prompts[k] = f"{prompt}{reply}\n{observation}\n> go to cabinet {turn}"


def same_as_without_cache(on: HFBackend, off: HFBackend, prompts: list) -> list[str]:
    """Generate with both backends; outputs equal, logits equal up to float rounding."""
    start_on, start_off = len(on.logits), len(off.logits)
    with_cache = on.generate(prompts, max_new_tokens=8, stop=())
    assert with_cache == off.generate(prompts, max_new_tokens=8, stop=())
    assert all(text for text in with_cache)  # stop=(): each reply runs to the token limit
    for a, b in zip(on.logits[start_on:], off.logits[start_off:], strict=True):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    return with_cache


def stored_kv_matches_a_full_prefill(backend: HFBackend) -> None:
    for ids, kv in backend._prefix_store.values():
        with torch.inference_mode():
            fresh = backend.model(input_ids=torch.from_numpy(ids)[None], use_cache=True).past_key_values
        for layer, (keys, values) in zip(fresh.layers, kv, strict=True):
            assert keys.shape == layer.keys[0].shape
            assert torch.allclose(keys, layer.keys[0], atol=1e-4) and torch.allclose(values, layer.values[0], atol=1e-4)


def test_multi_turn_chats_reuse_earlier_turns_and_change_nothing(on, off):
    prompts = [chat(i) for i in range(4)] + [transcript(i) for i in range(2)]
    for turn in range(4):
        replies = same_as_without_cache(on, off, prompts)
        if turn == 1:
            assert on.prefix_cache_hits > 0
        grow(prompts, replies, turn)
    assert on.prefix_cache_hits > on.prefilled_tokens  # most of each prompt was there the turn before
    assert on.prefilled_tokens < off.prefilled_tokens
    # One entry per conversation: each turn's prompt replaces the previous turn's.
    assert len(on._prefix_store) == len(prompts)
    stored_kv_matches_a_full_prefill(on)


def test_several_batches_per_call(on, off):
    on.batch_size = off.batch_size = 3
    prompts = [chat(i) for i in range(5)] + [transcript(7)]
    for turn in range(3):
        grow(prompts, same_as_without_cache(on, off, prompts), turn)
    assert on.prefix_cache_hits > 0 and on.prefilled_tokens < off.prefilled_tokens


def test_eviction_keeps_the_store_under_its_budget(on, off):
    on.prefix_cache_tokens = 150  # about two prompts
    prompts = [chat(i) for i in range(4)] + [transcript(3)]
    for turn in range(4):
        grow(prompts, same_as_without_cache(on, off, prompts), turn)
        assert 0 < on.prefix_cache_stored_tokens <= 150
    stored_kv_matches_a_full_prefill(on)


@pytest.mark.parametrize("method", ["prefix_cache", "prefix_cache_session"])  # its own name, and the protocol's
def test_context_manager_turns_the_cache_on_and_clears_it(tiny_model, method):
    backend = HFBackend(tiny_model, device="cpu", batch_size=4)
    session = getattr(backend, method)
    backend.generate([chat(0), transcript(0)], max_new_tokens=2)
    assert backend.prefix_cache_tokens == 0 and not backend._prefix_store  # off: nothing stored
    with session(5000) as cached:
        assert cached is backend and backend.prefix_cache_tokens == 5000
        backend.generate([chat(0), transcript(0)], max_new_tokens=2)
        assert len(backend._prefix_store) == 2
    assert backend.prefix_cache_tokens == 0 and not backend._prefix_store

    backend.prefix_cache_tokens = 700
    with pytest.raises(RuntimeError):
        with session(5000):
            backend.generate([chat(1)], max_new_tokens=2)
            raise RuntimeError("the rollout failed")
    assert backend.prefix_cache_tokens == 700 and not backend._prefix_store


def test_a_batch_mixing_hits_and_misses(on, off, monkeypatch):
    """Games that join mid-rollout: a short prompt with nothing stored rides in the batch with reused
    length 0; a long one is prefilled on its own first, so the others are not padded to its length."""
    batches, prefilled = [], []
    real_batch, real_prefill = HFBackend._cached_batch_inputs, HFBackend._prefill
    monkeypatch.setattr(HFBackend, "_cached_batch_inputs",
                        lambda self, rows, hits: batches.append([n for _, n in hits]) or real_batch(self, rows, hits))
    monkeypatch.setattr(HFBackend, "_prefill",
                        lambda self, rows, hits: prefilled.append(len(rows)) or real_prefill(self, rows, hits))
    prompts = [chat(i) for i in range(3)]
    grow(prompts, same_as_without_cache(on, off, prompts), 0)
    grow(prompts, same_as_without_cache(on, off, prompts), 1)
    assert batches and not prefilled

    batches.clear()
    prompts.append(transcript(5))  # short, shares nothing with the stored chats
    grow(prompts, same_as_without_cache(on, off, prompts), 2)
    assert any(0 in hits and max(hits) > 0 for hits in batches) and not prefilled

    # Two of different lengths: their own prefill pads the shorter one, so its positions must come
    # from the attention mask as in generate().
    joining = [[{"role": "system", "content": "You are a helpful assistant. " * n}, {"role": "user", "content": "look"}]
               for n in (40, 30)]
    before = on.prefilled_tokens
    same_as_without_cache(on, off, prompts + joining)
    assert prefilled == [2]
    texts = [on.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in joining]
    assert on.prefilled_tokens - before > sum(len(on.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    stored_kv_matches_a_full_prefill(on)
