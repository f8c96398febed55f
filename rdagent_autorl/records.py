"""Durable run records on disk: append-only JSONL logs and atomically replaced JSON files.

Every recorded file of a run (scores.jsonl, refusals.jsonl, failures.jsonl, revisions.jsonl,
record.json, run_meta.json) is written and read through these functions, so a process killed at any
moment leaves nothing that stops the next reader: an append is fsynced line by line, a JSON file is
written aside and renamed, and a reader skips a torn last line instead of failing on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def append_durably(path: Path, line: str, follow_links: bool = True) -> None:
    """Append one line and fsync it, so a kill at any moment loses no recorded line. After a torn last
    line (a writer killed mid-line) the new line starts on a line of its own: glued to the fragment, it
    would be unreadable too. follow_links=False for a file in a folder someone else controls (an
    agent's workspace): a symlink planted there is refused (OSError) instead of written through."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | (0 if follow_links else os.O_NOFOLLOW)
    with os.fdopen(os.open(path, flags, 0o644), "a+b") as f:
        torn = f.seek(0, os.SEEK_END) > 0 and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b"\n"
        f.write((b"\n" if torn else b"") + line.rstrip("\n").encode() + b"\n")
        f.flush()
        os.fsync(f.fileno())


def append_record(path: Path, record: BaseModel, follow_links: bool = True) -> None:
    append_durably(path, record.model_dump_json(), follow_links)


def write_json_atomic(path: Path, data: dict | BaseModel) -> None:
    """Replace `path` with `data` as JSON; readers see the old file or the new one, never half of one.
    The file written aside is a fresh one (mkstemp: O_EXCL, so never a link planted under a guessable
    name), and the rename replaces a link at `path` itself rather than writing through it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = data.model_dump_json(indent=2) if isinstance(data, BaseModel) else json.dumps(data, indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    """The records of a JSONL log as `model`s. A line that is not a valid record (the torn last line of
    a crashed writer, a hand edit) is skipped, never fatal; a missing file is an empty log."""
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except (ValidationError, ValueError):
            continue
    return records


def read_json(path: Path, model: type[M]) -> M:
    return model.model_validate_json(path.read_text())
