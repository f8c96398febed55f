"""What identifies the model behind a backend, for cache keys: content for a local checkpoint, the
endpoint and served model name for an OpenAI-compatible endpoint (no local files to hash)."""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
# Besides the weights, the files that decide what a checkpoint generates.
GENERATION_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt", "tokenizer.model")

# (path, size, mtime_ns) -> sha256: a process hashes gigabytes of weights once. The value depends on
# content only, so a copy or a touched file gives the same identity.
_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _FILE_DIGESTS[key] = h.hexdigest()
    return _FILE_DIGESTS[key]


def checkpoint_identity(model_dir: str | Path) -> str:
    """`sha256:<32 hex>` over a checkpoint folder's weights, config and tokenizer files (names and
    contents; never paths or mtimes)."""
    model_dir = Path(model_dir)
    weights = sorted({p for pattern in WEIGHT_PATTERNS for p in model_dir.glob(pattern) if p.is_file()})
    if not weights:
        raise FileNotFoundError(f"{model_dir}: no weight files ({', '.join(WEIGHT_PATTERNS)}) to identify it by")
    inner = hashlib.sha256()
    for f in weights:
        inner.update(f.name.encode() + b"\0" + _file_digest(f).encode())
    h = hashlib.sha256(inner.hexdigest().encode())
    for name in GENERATION_FILES:
        if (model_dir / name).is_file():
            h.update(name.encode() + b"\0" + (model_dir / name).read_bytes())
    return f"sha256:{h.hexdigest()[:32]}"


def endpoint_identity(base_url: str, model: str) -> str:
    """`openai:<base_url>:<model>` for a model served behind an OpenAI-compatible endpoint."""
    return f"openai:{base_url.rstrip('/')}:{model}"
