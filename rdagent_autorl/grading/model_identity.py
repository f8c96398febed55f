"""Is a submitted checkpoint the agent's own training, or a model it found?

Two checks beside the copied-base-model one (run.py), both by content, never by path:
- `model_substituted`: the submission is another network than the base model (another architecture,
  depth, width or number of block parameters; checkpoints.architecture). Whatever its score, it does
  not measure post-training of the base model.
- `copied_model`: the submitted weights are byte for byte a checkpoint already on this machine that the
  run did not produce: in the Hugging Face cache, the autorl home (built models, other runs' outputs) or
  beside this run. Candidates are compared by weight file names and sizes, then by sampled chunks, so
  only a folder that could be equal is hashed whole; the base model and this run's own folder are left
  out.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

from rdagent_autorl.checkpoints import WEIGHT_PATTERNS, architecture, weight_files, weights_hash
from rdagent_autorl.settings import get_settings

MAX_DEPTH = 7  # <runs>/<run>/workspace/output/<version>/checkpoint-N/ is 6 below a runs folder
# Folders that hold no checkpoint a submission could copy, and can be large.
SKIP_DIRS = {".git", "__pycache__", "grades", "objects", "diffs", "blobs", ".locks", "grader-snapshots", "judge"}


def architecture_change(base_dir: Path, submitted_dir: Path) -> str | None:
    """How the submission's network differs from the base model's ("hidden_size: 64 -> 128"), or None."""
    base, submitted = architecture(base_dir), architecture(submitted_dir)
    if base is None or submitted is None:  # no config to compare: the worker's load is what fails then
        return None
    diffs = [f"{key}: {base[key]!r} -> {submitted[key]!r}" for key in base
             if key in submitted and base[key] != submitted[key]]
    return "; ".join(diffs) or None


def known_checkpoint_roots(run_dir: Path) -> list[Path]:
    """Where checkpoints the run did not produce can be: the HF hub cache, the autorl home and cache, and
    the folder holding this run (other runs)."""
    settings = get_settings()
    roots = [_hf_hub_cache(), settings.home_dir, settings.cache_path, Path(run_dir).parent]
    unique: list[Path] = []
    for root in roots:
        root = root.expanduser().resolve()
        if root.is_dir() and not any(root == u or u in root.parents for u in unique):
            unique = [u for u in unique if root not in u.parents] + [root]
    return unique


def _hf_hub_cache() -> Path:
    """The HF hub cache as the environment names it now: huggingface_hub's constants are fixed when it is
    first imported, which in a long-lived grader may be before HF_HOME or HF_HUB_CACHE was set."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(hf_home).expanduser() / "hub"


def _checkpoint_dirs(root: Path, exclude: Iterable[Path]) -> Iterable[Path]:
    excluded = {Path(p).resolve() for p in exclude}
    base_depth = len(root.parts)
    for dirpath, dirs, files in os.walk(root):  # never follows links to folders
        here = Path(dirpath)
        if here in excluded:
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS] if len(here.parts) - base_depth < MAX_DEPTH else []
        if any(Path(name).match(pattern) for name in files for pattern in WEIGHT_PATTERNS):
            yield here


SAMPLE_BYTES = 1 << 16


def _sampled_digest(files: list[Path]) -> str:
    """sha256 over three chunks (start, middle, end) of each file, in name order."""
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        size = path.stat().st_size
        with path.open("rb") as f:
            for offset in (0, max(0, size // 2 - SAMPLE_BYTES // 2), max(0, size - SAMPLE_BYTES)):
                f.seek(offset)
                h.update(f.read(SAMPLE_BYTES))
    return h.hexdigest()


def find_copied_checkpoint(submitted_dir: Path, roots: Iterable[Path], exclude: Iterable[Path]) -> Path | None:
    """A folder under `roots` (outside `exclude`) whose weights equal the submission's, or None."""
    mine = weight_files(Path(submitted_dir))
    if not mine:
        return None
    signature = sorted((f.name, f.stat().st_size) for f in mine)
    sampled, target = None, None
    exclude = list(exclude)
    for root in roots:
        for folder in _checkpoint_dirs(root, exclude):
            try:
                theirs = weight_files(folder)
                if sorted((f.name, f.stat().st_size) for f in theirs) != signature:
                    continue
                # Every fine-tune of the same model has the same file names and sizes: a few sampled chunks
                # tell them apart before a full hash of gigabytes would.
                sampled = sampled or _sampled_digest(mine)
                if _sampled_digest(theirs) != sampled:
                    continue
                target = target or weights_hash(Path(submitted_dir))
                if weights_hash(folder) == target:
                    return folder
            except OSError:  # a folder removed or unreadable meanwhile is no candidate
                continue
    return None
