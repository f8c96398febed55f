"""What a checkpoint folder is made of, and its content hashes.

At the bottom of the package (with types, records and settings): model resolution (models/), the
generation backends' identities (generation/) and the grader's copied-base-model check all hash
checkpoints the same way, by content: never by path or mtime, so a copy hashes the same.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
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


# config.json fields that say which network a checkpoint is (the same model, fine-tuned, keeps all of them)
ARCHITECTURE_FIELDS = ("model_type", "architectures", "num_hidden_layers", "hidden_size", "intermediate_size",
                       "num_attention_heads", "num_key_value_heads")
# Tensor names of the embeddings and the output head: left out of the count of block parameters, since a
# fine-tune may add tokens or store a tied head untied without becoming another model.
_EMBEDDING_PARTS = ("embed", "lm_head", "wte", "wpe")


def safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """{tensor name: shape} from a .safetensors file's header (8-byte little-endian length, then JSON),
    without reading the tensors."""
    with Path(path).open("rb") as f:
        length = int.from_bytes(f.read(8), "little")
        if not 0 < length <= 100 * 2**20:
            raise ValueError(f"{path}: not a safetensors header (length {length})")
        header = json.loads(f.read(length))
    return {name: list(info["shape"]) for name, info in header.items() if name != "__metadata__"}


def architecture(model_dir: Path) -> dict | None:
    """What network a checkpoint is: its config's ARCHITECTURE_FIELDS and, where the weights are
    safetensors, the number of parameters outside the embeddings and head. None without a config.json."""
    config_file = Path(model_dir) / "config.json"
    if not config_file.is_file():
        return None
    config = json.loads(config_file.read_text())
    out = {key: config.get(key) for key in ARCHITECTURE_FIELDS}
    files = [f for f in weight_files(Path(model_dir)) if f.suffix == ".safetensors"]
    if files:
        out["block_parameters"] = sum(math.prod(shape) for f in files for name, shape in safetensors_shapes(f).items()
                                      if not any(part in name for part in _EMBEDDING_PARTS))
    return out


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


# -- private snapshots of an untrusted folder ----------------------------------------------------------
# The grader copies what an agent submits into a folder of its own before any check, so what is checked,
# hashed and graded is one and the same set of bytes, whatever the agent does to its folder meanwhile.
# shutil.copytree cannot be used: it follows (or copies) symlinks and re-resolves paths by name between
# its lstat and its open, which is the race the snapshot exists to close. Every step here is relative to
# an already-open directory fd and opened with O_NOFOLLOW.
_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: a FIFO swapped in between the lstat and the open must not hang the grader.
_NOFOLLOW_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class UnsafeTree(ValueError):
    """A folder the grader will not snapshot. `kind` is one of symlink, missing, not_dir, special, too_big,
    too_long; the message names the offending entry relative to the submitted folder."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def _os_refusal(exc: OSError, where: str) -> UnsafeTree:
    if exc.errno == errno.ELOOP:
        return UnsafeTree("symlink", f"{where} is a symlink; submit real files, not links")
    if exc.errno == errno.ENOENT:
        return UnsafeTree("missing", f"{where} does not exist")
    if exc.errno == errno.ENOTDIR:
        return UnsafeTree("not_dir", f"{where} is not a folder")
    if exc.errno == errno.ENAMETOOLONG:
        return UnsafeTree("too_long", f"a path component of {where[:200]} is too long")
    return UnsafeTree("special", f"{where[:200]} cannot be read: {exc.strerror}")


def open_dir_nofollow(root: Path, parts: list[str]) -> int:
    """An fd of `root/parts[0]/parts[1]/...`, each step opened without following a symlink (a symlinked
    root or component is refused, never resolved). The caller closes the fd."""
    try:
        fd = os.open(root, _NOFOLLOW_DIR)
    except OSError as exc:
        raise _os_refusal(exc, str(root)) from None
    for i, part in enumerate(parts):
        try:
            nxt = os.open(part, _NOFOLLOW_DIR, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ENOTDIR and _is_link(fd, part):  # O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR
                exc = OSError(errno.ELOOP, "symlink")
            raise _os_refusal(exc, "/".join(parts[: i + 1])) from None
        finally:
            os.close(fd)
        fd = nxt
    return fd


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def snapshot_tree(dir_fd: int, dest: Path, *, max_files: int = 10_000, max_depth: int = 16,
                  max_bytes: int | None = None) -> str:
    """Copy the regular files under the open directory `dir_fd` into the new folder `dest` (created 0700)
    and return a sha256 over every copied file's relative path and content. Any symlink, FIFO, socket or
    device in the tree is refused (UnsafeTree), as are trees past the limits."""
    h = hashlib.sha256()
    state = {"files": 0, "bytes": 0}

    def walk(fd: int, out: Path, rel: str, depth: int) -> None:
        if depth > max_depth:
            raise UnsafeTree("too_big", f"{rel} is nested deeper than {max_depth} folders")
        out.mkdir(mode=0o700)
        for name in sorted(os.listdir(fd)):
            where = f"{rel}/{name}" if rel else name
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeTree("symlink", f"{where} is a symlink; submit real files, not links")
            state["files"] += 1
            if state["files"] > max_files:
                raise UnsafeTree("too_big", f"the folder holds more than {max_files} entries")
            flags = _NOFOLLOW_DIR if stat.S_ISDIR(st.st_mode) else _NOFOLLOW_FILE
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                raise UnsafeTree("special", f"{where} is neither a regular file nor a folder")
            try:
                child = os.open(name, flags, dir_fd=fd)
            except OSError as exc:  # swapped for a symlink (ELOOP, or ENOTDIR for a folder) or removed since the stat
                if exc.errno == errno.ENOTDIR and _is_link(fd, name):
                    exc = OSError(errno.ELOOP, "symlink")
                raise _os_refusal(exc, where) from None
            try:
                cst = os.fstat(child)  # what was opened, not what the name pointed to a moment ago
                if stat.S_ISDIR(cst.st_mode):
                    h.update(b"d\0" + where.encode("utf-8", "surrogateescape") + b"\0")
                    walk(child, out / name, where, depth + 1)
                elif stat.S_ISREG(cst.st_mode):
                    h.update(b"f\0" + where.encode("utf-8", "surrogateescape") + b"\0")
                    fh = hashlib.sha256()
                    with open(out / name, "xb") as dst:
                        while chunk := os.read(child, 1 << 20):
                            state["bytes"] += len(chunk)
                            if max_bytes is not None and state["bytes"] > max_bytes:
                                raise UnsafeTree("too_big", f"the folder holds more than {max_bytes} bytes")
                            fh.update(chunk)
                            dst.write(chunk)
                    h.update(fh.digest())
                else:
                    raise UnsafeTree("special", f"{where} is neither a regular file nor a folder")
            finally:
                os.close(child)

    try:
        walk(dir_fd, Path(dest), "", 0)
    except OSError as exc:  # e.g. a file removed mid-walk; a full disk is the grader's problem, not a refusal
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise _os_refusal(exc, "the submitted folder") from None
    return h.hexdigest()
