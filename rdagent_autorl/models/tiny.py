"""A tiny, deterministic Qwen2-architecture causal LM, built locally with no download.

It lets tests, smoke runs and CPU-only machines exercise the full pipeline (tokenize, chat template,
generate, train, grade) on a real transformers checkpoint. Its weights are random: it is a plumbing
model, not a capable one. Same seed -> byte-identical `model.safetensors` and `tokenizer.json`, so
cached grades keyed on the weights hash stay valid across machines.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from rdagent_autorl.settings import get_settings

# Measured on the corpus below (characters per token): 4096 keeps ALFWorld's and GSM8K's text as compact as
# 12288 does (3.56 vs 3.58, 2.79 vs 2.79), shop pages nearly (3.12 vs 3.22) and Wikipedia at 3.92 vs 4.53;
# a larger vocabulary would make the model bigger and each step slower for the little left.
VOCAB_SIZE = 4096
# Bumped whenever the tokenizer corpus or MODEL_KWARGS change: the cache folder is named after it, so a
# machine never keeps using a tiny model built by older code. 3: every task's text (shopping pages and
# Wikipedia articles too: the grader's shop and search episodes went from 1.94 and 2.38 characters per
# token to 3.40 and 4.02), HumanEval's held-out problems out of it.
TINY_VERSION = 3
# Each task's text, one JSON string per line, written by scripts/make_tokenizer_corpus.py from the task's
# `tokenizer_text` (committed: the models layer never imports a task).
CORPUS_DIR = Path(__file__).with_name("corpus")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2
# Qwen2's own split regex, so the tokenizer behaves like the real model family's (and llama.cpp's
# "qwen2" pre-tokenizer reproduces it from a GGUF).
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# ChatML as Qwen2.5 writes it, without the tool-calling branches.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
MODEL_KWARGS = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=8192,  # an ALFWorld episode of 50 turns, whole, as the grader prompts it
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    use_sliding_window=False,
)
_CHAT_LINES = [
    "You are a helpful assistant.",
    "Solve the following math problem step by step. Put the final answer after ####.",
    "Complete the following Python function. Return only the code.",
    "Sure, here is the solution.",
    "Let's think step by step.",
    "The answer is",
    "Thank you! Could you explain your reasoning?",
]


def corpus_file(task_id: str) -> Path:
    return CORPUS_DIR / f"{task_id}.jsonl"


def corpus_file_text(texts: list[str]) -> str:
    """A corpus file's content: one JSON string per text (texts keep their newlines and indentation,
    which code needs merges for), trailing blanks of each line dropped."""
    return "".join(json.dumps("\n".join(line.rstrip() for line in t.split("\n"))) + "\n" for t in texts)


def _corpus() -> list[str]:
    """Fixed training text for the tokenizer: every task's (word problems, code, household games, shop
    pages, Wikipedia articles, so a task's words are one or two tokens, as in a real model's vocabulary,
    not six) in file-name order, and chat turns."""
    texts = [json.loads(line) for path in sorted(CORPUS_DIR.glob("*.jsonl")) for line in path.read_text().splitlines()]
    for i, line in enumerate(_CHAT_LINES):
        # The chat markup itself, so role names and turn boundaries get their own merges.
        texts.append(f"<|im_start|>system\n{_CHAT_LINES[0]}<|im_end|>\n<|im_start|>user\n{line}<|im_end|>\n")
        texts.append(f"<|im_start|>assistant\n{_CHAT_LINES[(i + 3) % len(_CHAT_LINES)]}<|im_end|>\n")
    return texts


def _train_tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        special_tokens=SPECIAL_TOKENS,
        # The whole byte alphabet, so any text (unseen unicode included) still encodes.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return tok


def _write(out: Path, seed: int) -> None:
    import torch
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    raw = _train_tokenizer()
    eot, im_start, im_end = (raw.token_to_id(t) for t in SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        additional_special_tokens=["<|im_start|>"],
        model_max_length=MODEL_KWARGS["max_position_embeddings"],
        padding_side="left",  # decoder-only generation pads on the left
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)

    config = Qwen2Config(
        vocab_size=raw.get_vocab_size(),
        bos_token_id=eot,
        eos_token_id=im_end,
        pad_token_id=eot,
        **MODEL_KWARGS,
    )
    # Seed a private RNG scope: weights depend only on `seed`, and the caller's RNG state is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=eot, eos_token_id=[im_end, eot], pad_token_id=eot, do_sample=False
    )
    model.save_pretrained(out)


def build_tiny_model(out_dir: Path, seed: int = 0) -> Path:
    """Build the tiny model into `out_dir` (replaced if present) and return it.

    Built in a temporary folder beside `out_dir` and renamed into place, so a crash never leaves a
    half-written checkpoint where a reader would take it for a whole one.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        _write(tmp, seed)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _is_built(path: Path) -> bool:
    return all((path / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json"))


def tiny_model_path(seed: int = 0) -> Path:
    """The cached tiny model for `seed` under `<home>/models`, built on first use."""
    from filelock import FileLock

    path = get_settings().home_dir / "models" / f"tiny-qwen2-v{TINY_VERSION}-s{seed}"
    if _is_built(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time; whoever waited re-checks, and finds the other's finished build.
    with FileLock(str(path.parent / f".{path.name}.lock")):
        if not _is_built(path):
            build_tiny_model(path, seed)
    return path
