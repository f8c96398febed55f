"""Test helper: write a Qwen2 HF checkpoint as an f32 GGUF file, the way llama.cpp's converter would.

Only what transformers' GGUF loader reads is written: the `qwen2.*` hyper-parameters, the tensors
under llama.cpp's names (`token_embd`, `blk.N.attn_q`, ...), and the gpt2-style byte-level BPE
tokenizer (`tokenizer.ggml.tokens` / `token_type` / `merges` and the special token ids).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_qwen2_gguf(model_dir: Path, out_file: Path) -> Path:
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    tok = json.loads((model_dir / "tokenizer.json").read_text())
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    n_layers = config["num_hidden_layers"]

    writer = gguf.GGUFWriter(str(out_file), "qwen2")
    writer.add_name("tiny-qwen2")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_rope_freq_base(float(config["rope_parameters"]["rope_theta"]))

    # Tokenizer: the byte-level vocabulary by id, special tokens marked CONTROL, merges as "a b".
    vocab = tok["model"]["vocab"]
    specials = {t["content"]: t["id"] for t in tok["added_tokens"]}
    tokens = [None] * len(vocab)
    for piece, index in {**vocab, **specials}.items():
        tokens[index] = piece
    assert None not in tokens, "vocabulary ids are not contiguous"
    types = [
        gguf.TokenType.CONTROL if piece in specials else gguf.TokenType.NORMAL for piece in tokens
    ]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(specials["<|endoftext|>"])
    writer.add_eos_token_id(specials[tok_config["eos_token"]])
    writer.add_pad_token_id(specials[tok_config["pad_token"]])
    writer.add_add_bos_token(False)
    template = model_dir / "chat_template.jinja"
    if template.is_file():
        writer.add_chat_template(template.read_text())

    # Tensors, renamed with gguf's own HF -> llama.cpp map (the one transformers inverts on load).
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, n_layers)
    state = load_file(str(model_dir / "model.safetensors"))
    for hf_name in sorted(state):
        base, suffix = hf_name.rsplit(".", 1)
        gguf_name = name_map.get_name(base)
        assert gguf_name is not None, f"no GGUF name for {hf_name}"
        writer.add_tensor(f"{gguf_name}.{suffix}", np.ascontiguousarray(state[hf_name], dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_file
