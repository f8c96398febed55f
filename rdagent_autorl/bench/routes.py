"""Which training routes a run's code used (SFT, GRPO, DPO, PPO, online RL), read from the recorded code
revisions (snapshots/): for the whole run (`training_routes`) and for the code that produced the run's
final checkpoint (`final_routes`), which a sweep's tables count ("how often the final best came from each
route")."""

from __future__ import annotations

import ast
import re

from rdagent_autorl.bench.run_data import RunData, is_valid
from rdagent_autorl.grading.run import Submission

# A route is named by what its code calls. "online RL": GRPO whose rollouts play the task's environment
# (TRL's rollout_func over the env protocol, templates/grpo_online.py), beside its GRPO marker.
ROUTE_MARKERS = {"SFT": ("SFTTrainer", "SFTConfig"), "GRPO": ("GRPOTrainer", "GRPOConfig"),
                 "PPO": ("PPOTrainer", "PPOConfig"), "DPO": ("DPOTrainer", "DPOConfig"),
                 "online RL": ("rollout_func", "load_task_env")}
TRAINING_HINTS = (".backward(", "Trainer(", "optimizer.step(")


def _code_names(text: str) -> set[str] | str:
    """The names a Python file's code uses (imported, called, read), never those only in its strings or
    comments: a shared helper whose docstring mentions SFTConfig is not an SFT route. A file that does not
    parse (an agent's half-written script) is searched as text."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return text
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.rsplit(".", 1)[-1])
    return names


def _routes(run: RunData, files: dict[str, str]) -> list[str]:
    """The routes of these recorded files ({path: content digest}; Python files only)."""
    objects = run.run_dir / "snapshots" / "objects"
    digests = {sha for rel, sha in files.items() if rel.endswith(".py") and re.fullmatch(r"[0-9A-Za-z]+", sha)}
    texts = [(objects / sha).read_bytes().decode("utf-8", "replace") for sha in sorted(digests) if (objects / sha).is_file()]
    if not texts:
        return []
    used = [_code_names(t) for t in texts]
    routes = {name for name, markers in ROUTE_MARKERS.items() if any(m in u for u in used for m in markers)}
    if not routes and any(h in t for t in texts for h in TRAINING_HINTS):
        routes = {"other"}
    return sorted(routes)


def detect_training_routes(run: RunData) -> list[str]:
    """Every route any recorded revision's code used."""
    return _routes(run, {f"{i}/{rel}": sha for i, rev in enumerate(run.revisions) for rel, sha in rev.files.items()})


def revision_for(run: RunData, sub: Submission) -> int | None:
    """The revision recorded for this submission, else the last one taken at or before it."""
    tagged = [i for i, r in enumerate(run.revisions) if sub.id and r.submission_id == sub.id]
    before = [i for i, r in enumerate(run.revisions) if r.time <= sub.time]
    return (tagged or before or [None])[-1]


def final_routes(run: RunData) -> list[str]:
    """The routes of the code that produced the run's final checkpoint (its final grade's submission, else
    its best valid one): the Python files that changed since the previous valid submission's revision, or,
    when none did, every Python file of its revision."""
    valid = [s for s in run.submissions if is_valid(s)]
    chosen_id = run.final.submission_id if run.final and run.final.submission_id else None
    if chosen_id is None and valid:
        chosen_id = max(valid, key=lambda s: s.score).id
    chosen = next((s for s in valid if s.id == chosen_id), None)
    cur = revision_for(run, chosen) if chosen else None
    if cur is None:
        return []
    earlier = [s for s in valid if s.time < chosen.time]
    prev = revision_for(run, earlier[-1]) if earlier else None
    old = run.revisions[prev].files if prev is not None and prev < cur else {}
    new = run.revisions[cur].files
    changed = {rel: sha for rel, sha in new.items() if old.get(rel) != sha}
    return _routes(run, changed) or _routes(run, new)
