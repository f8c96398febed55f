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
import json
import os
import threading
import time
from pathlib import Path

from rdagent_autorl.grading.run import append_durably

MAX_FILE_BYTES = 2 * 2**20  # larger files (checkpoints, data dumps) are not code: listed, not stored
SKIP_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", "wandb"}


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
        log = self.dir / "revisions.jsonl"
        if log.exists():  # a resumed run continues its revision history
            revisions = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            if revisions:
                self._files, self._count = revisions[-1]["files"], len(revisions)

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
            append_durably(self.dir / "revisions.jsonl", json.dumps({
                "id": rev, "time": time.time(), "reason": reason, "submission_id": submission_id, "files": files,
                "added": added, "removed": removed, "changed": changed, "lines_added": plus, "lines_removed": minus,
                "diff": diff_rel}))
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
