"""What a checkpoint folder is made of, and its content hashes.

At the bottom of the package (with types, records and settings): model resolution (models/), the
generation backends' identities (generation/) and the grader's copied-base-model check all hash
checkpoints the same way, by content: never by path or mtime, so a copy hashes the same.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
# Besides the weights, the files that decide what a checkpoint generates.
GENERATION_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt", "tokenizer.model")

# (path, size, mtime_ns) -> sha256: a process reads gigabytes of weights once. The value depends on
# content only, so a copy or a touched file gives the same digest.
_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _FILE_DIGESTS[key] = h.hexdigest()
    return _FILE_DIGESTS[key]


def weight_files(model_dir: Path) -> list[Path]:
    return sorted({p for pattern in WEIGHT_PATTERNS for p in Path(model_dir).glob(pattern) if p.is_file()})


def weights_hash(model_dir: Path) -> str:
    """sha256 over the weight files' names and contents."""
    h = hashlib.sha256()
    for f in weight_files(Path(model_dir)):
        h.update(f.name.encode() + b"\0" + file_digest(f).encode())
    return h.hexdigest()


def checkpoint_identity(model_dir: str | Path) -> str:
    """`sha256:<32 hex>` over a checkpoint folder's weights, config and tokenizer files (names and
    contents): what decides what the checkpoint generates."""
    model_dir = Path(model_dir)
    if not weight_files(model_dir):
        raise FileNotFoundError(f"{model_dir}: no weight files ({', '.join(WEIGHT_PATTERNS)}) to identify it by")
    h = hashlib.sha256(weights_hash(model_dir).encode())
    for name in GENERATION_FILES:
        if (model_dir / name).is_file():
            h.update(name.encode() + b"\0" + (model_dir / name).read_bytes())
    return f"sha256:{h.hexdigest()[:32]}"
