"""Runtime recording of an agent's code: content-addressed snapshots of the workspace's code/ tree.

Snapshots are taken by the harness itself (not by the agent's goodwill): when the run starts, when a
submission arrives (the grader calls `snapshot("submission", sub_id)`), every `interval` seconds while
the agent works (only when something changed), and once at the end.

    <run>/snapshots/objects/<sha256>     each file content, stored once
    <run>/snapshots/revisions.jsonl      one line per revision: files -> sha256, what changed, churn
    <run>/snapshots/diffs/rev-NNNN.diff  unified diff against the previous revision
"""

from __future__ import annotations

import difflib
import hashlib
import os
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

from rdagent_autorl.records import append_record, read_jsonl

MAX_FILE_BYTES = 2 * 2**20  # larger files (checkpoints, data dumps) are not code: listed, not stored
SKIP_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", "wandb"}
REVISIONS = "revisions.jsonl"


class Revision(BaseModel):
    """One line of revisions.jsonl: the code/ tree at one moment and what changed since the previous one."""

    id: str
    time: float
    reason: str  # start, poll, submission, final
    submission_id: str | None = None
    files: dict[str, str] = Field(default_factory=dict)  # path -> sha256 of its content (objects/<sha256>)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    diff: str | None = None  # diffs/<id>.diff, relative to the snapshots folder

    @property
    def changes_code(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def read_revisions(snapshots_dir: Path) -> list[Revision]:
    return read_jsonl(Path(snapshots_dir) / REVISIONS, Revision)


class CodeRecorder:
    def __init__(self, code_dir: Path, snapshots_dir: Path) -> None:
        self.code_dir, self.dir = Path(code_dir), Path(snapshots_dir)
        self.objects = self.dir / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)
        (self.dir / "diffs").mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._files: dict[str, str] = {}
        self._count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log = self.dir / REVISIONS
        # A resumed run continues its revision history. A crash may have torn the last line: the reader
        # skips it and the next append starts a line of its own (records.append_durably).
        revisions = read_revisions(self.dir)
        if revisions:
            numbers = [int(r.id[4:]) for r in revisions if r.id.startswith("rev-") and r.id[4:].isdigit()]
            self._files, self._count = dict(revisions[-1].files), max([len(revisions), *numbers])

    def _scan(self) -> dict[str, str]:
        files = {}
        for root, dirs, names in os.walk(self.code_dir):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(names):
                path = Path(root) / name
                if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
                    continue
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                target = self.objects / digest
                if not target.exists():
                    tmp = target.with_suffix(".tmp")
                    tmp.write_bytes(data)
                    tmp.replace(target)
                files[path.relative_to(self.code_dir).as_posix()] = digest
        return files

    def _text(self, digest: str | None) -> list[str]:
        if digest is None:
            return []
        try:
            return (self.objects / digest).read_text().splitlines(keepends=True)
        except UnicodeDecodeError:
            return ["<binary file>\n"]

    def snapshot(self, reason: str, submission_id: str | None = None) -> str | None:
        """Record code/ now; returns the revision id, or None for an unchanged poll."""
        with self._lock:
            files = self._scan() if self.code_dir.exists() else {}
            old = self._files
            added = sorted(set(files) - set(old))
            removed = sorted(set(old) - set(files))
            changed = sorted(p for p in set(files) & set(old) if files[p] != old[p])
            if reason == "poll" and not (added or removed or changed):
                return None
            self._count += 1
            rev = f"rev-{self._count:04d}"
            diff_lines: list[str] = []
            for path in sorted(added + removed + changed):
                diff_lines += difflib.unified_diff(self._text(old.get(path)), self._text(files.get(path)),
                                                   f"a/{path}", f"b/{path}")
            diff_rel = None
            if diff_lines:
                diff_rel = f"diffs/{rev}.diff"
                (self.dir / diff_rel).write_text("".join(line if line.endswith("\n") else line + "\n" for line in diff_lines))
            plus = sum(1 for line in diff_lines if line.startswith("+") and not line.startswith("+++"))
            minus = sum(1 for line in diff_lines if line.startswith("-") and not line.startswith("---"))
            append_record(self.log, Revision(
                id=rev, time=time.time(), reason=reason, submission_id=submission_id, files=files, added=added,
                removed=removed, changed=changed, lines_added=plus, lines_removed=minus, diff=diff_rel))
            self._files = files
            return rev

    # -- polling while the agent works ------------------------------------------------------------
    def start_polling(self, interval: float) -> None:
        def poll() -> None:
            while not self._stop.wait(interval):
                self.snapshot("poll")

        self._thread = threading.Thread(target=poll, daemon=True, name="code-recorder")
        self._thread.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
