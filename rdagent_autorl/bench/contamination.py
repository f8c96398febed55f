"""n-gram contamination check of a recorded run: did anything the agent wrote or trained on contain the
task's held-out items?

As AI2's decontamination tools and PostTrainBench's checker do, texts are normalised (NFKC, lower case,
words of letters and digits only) and compared as word n-grams (n = AUTORL_CONTAMINATION_NGRAM, 13 by
default). A held-out item shorter than n words is matched whole, if it has at least
AUTORL_CONTAMINATION_MIN_WORDS words (a two-word answer such as "the earth" says nothing).

What is searched: every code file of every recorded revision (snapshots/objects, each content once, named
by the first revision that has it) and every text file left in the workspace outside code/ (the training
data the harness gave, data files the agent wrote, logs, the text files of checkpoints). The training rows
a script read from outside the workspace are out of reach here; the agent sandbox is what keeps them
inside it.

An n-gram that also occurs in the task's public training split is dropped from the index: templated
synthetic data share phrasings between its splits, and an agent may legitimately copy the training data,
so such an n-gram is no evidence of having seen a held-out item.

Written by hand rather than with a library: the decontamination tools on PyPI either need a
tokenizer download or index whole corpora on disk; a set of hashed n-gram tuples is all this needs.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from rdagent_autorl.bench.recorder import Revision
from rdagent_autorl.bench.run_data import RunData
from rdagent_autorl.grading.run import RUN_META, RunMeta, records_dir_for
from rdagent_autorl.records import read_json
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks import get_task
from rdagent_autorl.types import Sample

WORD = re.compile(r"[^\W_]+")
MAX_FILE_BYTES = 64 * 2**20  # a larger file is a checkpoint or a dump, not text the agent wrote
SNIFF_BYTES = 8192
SKIP_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".npy", ".npz", ".pkl", ".png", ".jpg",
                 ".zip", ".gz", ".tar", ".arrow", ".parquet", ".pyc", ".so", ".db", ".sqlite"}


def words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFKC", text).lower())


def item_text(sample: Sample) -> str:
    """A held-out item as an agent could copy it: its prompt, then its reference answer."""
    return f"{sample.prompt}\n{sample.answer}" if sample.answer else sample.prompt


def _grams(tokens: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    return zip(*(tokens[i:] for i in range(n)))


@dataclass(frozen=True)
class Hit:
    item: str  # the held-out item's id
    source: str  # code/<path> or workspace/<path>
    revision: str | None  # the first revision holding this code file (None for a workspace file)
    overlap: str  # the matched words, normalised


@dataclass
class HeldoutIndex:
    """The held-out items' n-grams (and their whole word sequences where shorter than n) -> item ids."""

    n: int
    grams: dict[tuple[str, ...], str] = field(default_factory=dict)
    short: dict[int, dict[tuple[str, ...], str]] = field(default_factory=dict)  # length -> whole item -> id
    items: int = 0
    unindexed: int = 0  # items too short to say anything, or wholly inside the training split

    @classmethod
    def build(cls, heldout: Iterable[Sample], train: Iterable[Sample] = (), n: int = 13,
              min_words: int = 8) -> "HeldoutIndex":
        index = cls(n=n)
        public: set[tuple[str, ...]] = set()
        public_whole: set[tuple[str, ...]] = set()
        for sample in train:
            tokens = words(item_text(sample))
            public.update(_grams(tokens, n))
            # A short held-out item is matched whole: the same words as a whole training item are public too.
            public_whole.update(w for w in (tuple(tokens), tuple(words(sample.prompt))) if len(w) < n)
        for sample in heldout:
            index.items += 1
            tokens = words(item_text(sample))
            before = len(index.grams)
            if len(tokens) >= n:
                for gram in _grams(tokens, n):
                    if gram not in public:
                        index.grams.setdefault(gram, sample.id)
            elif len(tokens) >= min_words and tuple(tokens) not in public_whole:
                index.short.setdefault(len(tokens), {}).setdefault(tuple(tokens), sample.id)
                continue
            if len(index.grams) == before:
                index.unindexed += 1
        return index

    def matches(self, text: str) -> dict[str, str]:
        """{held-out item id: the first overlapping words} for one text."""
        tokens = words(text)
        found: dict[str, str] = {}
        for gram in _grams(tokens, self.n):
            item = self.grams.get(gram)
            if item is not None and item not in found:
                found[item] = " ".join(gram)
        for length, wholes in self.short.items():
            for gram in _grams(tokens, length):
                item = wholes.get(gram)
                if item is not None and item not in found:
                    found[item] = " ".join(gram)
        return found


def _read_text(path: Path) -> str | None:
    """A file's text, or None for a binary, oversized, linked or unreadable file."""
    try:
        if path.is_symlink() or not path.is_file() or path.suffix.lower() in SKIP_SUFFIXES:
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:SNIFF_BYTES]:
        return None
    return data.decode("utf-8", "replace")


def agent_texts(run_dir: Path, revisions: Sequence[Revision]) -> Iterator[tuple[str, str | None, str]]:
    """(source, revision, text) of everything the check reads: each code content once, then the
    workspace's files outside code/ (records the harness keeps beside the workspace are not the agent's)."""
    objects = Path(run_dir) / "snapshots" / "objects"
    seen: set[str] = set()
    for rev in revisions:
        for rel, sha in sorted(rev.files.items()):
            if sha in seen or not re.fullmatch(r"[0-9a-f]{64}", sha):
                continue
            seen.add(sha)
            text = _read_text(objects / sha)
            if text is not None:
                yield f"code/{rel}", rev.id, text
    workspace = Path(run_dir) / "workspace"
    for root, dirs, names in os.walk(workspace):  # os.walk never follows links to folders
        here = Path(root)
        if here == workspace:
            dirs[:] = [d for d in dirs if d != "code"]
        dirs.sort()
        for name in sorted(names):
            text = _read_text(here / name)
            if text is not None:
                yield f"workspace/{(here / name).relative_to(workspace).as_posix()}", None, text


def _task_as_graded(run: RunData) -> str:
    """The task as the grader opened it: a custom task's folder (the run record holds only its id)."""
    meta = records_dir_for(run.run_dir / "workspace") / RUN_META
    return read_json(meta, RunMeta).task if meta.exists() else run.record.task


def check_run(run: RunData) -> dict:
    """The check of a recorded run against its task's held-out split (and without its training split's
    n-grams), with the settings it used."""
    settings = get_settings()
    task = get_task(_task_as_graded(run))
    index = HeldoutIndex.build(task.heldout(run.record.data_source), task.train(run.record.data_source),
                               n=settings.contamination_ngram, min_words=settings.contamination_min_words)
    return check(index, agent_texts(run.run_dir, run.revisions))


def check(index: HeldoutIndex, texts: Iterable[tuple[str, str | None, str]]) -> dict:
    """The contamination verdict of one run: the hits (one per held-out item and source), and counts."""
    hits: list[Hit] = []
    files = 0
    for source, revision, text in texts:
        files += 1
        hits += [Hit(item, source, revision, overlap) for item, overlap in index.matches(text).items()]
    items_hit = sorted({h.item for h in hits})
    return {
        "contaminated": bool(hits), "ngram": index.n, "heldout_items": index.items,
        "heldout_items_unindexed": index.unindexed, "files_checked": files,
        "items_hit": len(items_hit), "hits_total": len(hits),
        "hits": [h.__dict__ for h in hits],
    }
