"""The post-hoc report of a recorded run: metrics computed by hand on a small fixture run, the files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rdagent_autorl.bench.report import compute_metrics, write_report

START = 1_700_000_000.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _write_record(run: Path, **overrides) -> None:
    record = {"run_id": "run-0001", "task": "gsm8k-rule", "agent": "rdagent", "driver": "fake", "base_model": "tiny",
              "start": START, "timeout_s": 3600, "deadline": START + 3600, "end": START + 3000, "agent_exit": 2,
              "killed_at_deadline": False, "baseline": {"score": 0.30, "ci_low": 0.25, "ci_high": 0.35, "n": 100}}
    record.update(overrides)
    run.mkdir(parents=True, exist_ok=True)
    (run / "record.json").write_text(json.dumps(record))


def _sub(index: int, minutes: float, score: float | None, **extra) -> dict:
    sub = {"id": f"sub-{index:04d}", "time": START + 60 * minutes, "model_path": f"/ws/output/m{index}", "status": "scored",
           "score": score, "ci_low": None if score is None else round(score - 0.05, 2),
           "ci_high": None if score is None else round(score + 0.05, 2), "n": 100, "baseline_score": 0.30,
           "improvement": None if score is None else round(score - 0.30, 2), "best_so_far": None,
           "total_submissions": index, "copied_base_model": False, "cached": False, "model_hash": f"h{index}",
           "samples_path": None, "error": None}
    sub.update(extra)
    return sub


def _write_code(run: Path) -> None:
    """Six revisions: start, a poll, sub-0001's, a poll with a long diff, sub-0003's, a final unchanged one."""
    snaps = run / "snapshots"
    (snaps / "objects").mkdir(parents=True)
    (snaps / "diffs").mkdir()
    contents = {"sft": "from trl import SFTTrainer\n", "helper": "def helper():\n    return 1\n",
                "sft2": "from trl import SFTTrainer\nimport utils\n",
                "grpo": "from trl import GRPOTrainer, GRPOConfig\ntrainer = GRPOTrainer(model)\n",
                "notes": "maybe PPOTrainer later\n"}  # a .md file: its trainer names must not count
    sha = {}
    for key, text in contents.items():
        sha[key] = hashlib.sha256(text.encode()).hexdigest()
        (snaps / "objects" / sha[key]).write_text(text)
    long_diff = "--- a/train.py\n+++ b/train.py\n@@ -1,2 +1,100 @@\n" + "".join(f"+line {i}\n" for i in range(100))
    diffs = {"rev-0002": "--- a/train.py\n+++ b/train.py\n@@ -1 +1,2 @@\n from trl import SFTTrainer\n+import utils\n",
             "rev-0004": long_diff,
             "rev-0005": "--- a/train.py\n+++ b/train.py\n@@ -1 +1,2 @@\n-from trl import SFTTrainer\n"
                         "+trainer = GRPOTrainer(model)\n"}
    for rev, text in diffs.items():
        (snaps / "diffs" / f"{rev}.diff").write_text(text)

    def rev(n, minutes, reason, files, sub=None, added=(), removed=(), changed=(), plus=0, minus=0):
        rid = f"rev-{n:04d}"
        return {"id": rid, "time": START + 60 * minutes, "reason": reason, "submission_id": sub,
                "files": {p: sha[k] for p, k in files.items()}, "added": list(added), "removed": list(removed),
                "changed": list(changed), "lines_added": plus, "lines_removed": minus,
                "diff": f"diffs/{rid}.diff" if rid in diffs else None}

    revisions = [
        rev(1, 0, "start", {"train.py": "sft"}, added=["train.py"], plus=1),
        rev(2, 4, "poll", {"train.py": "sft2", "utils.py": "helper"}, added=["utils.py"], changed=["train.py"],
            plus=3, minus=0),
        rev(3, 5, "submission", {"train.py": "sft2", "utils.py": "helper"}, sub="sub-0001"),
        rev(4, 18, "poll", {"train.py": "grpo"}, removed=["utils.py"], changed=["train.py"], plus=100, minus=2),
        rev(5, 20, "submission", {"train.py": "grpo", "notes.md": "notes"}, sub="sub-0003", added=["notes.md"],
            plus=1, minus=1),
        rev(6, 50, "final", {"train.py": "grpo", "notes.md": "notes"}),
    ]
    (snaps / "revisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in revisions))


def make_run(root: Path) -> Path:
    run = root / "run"
    _write_record(run)
    subs = [_sub(1, 5, 0.28, copied_base_model=True),
            _sub(2, 10, None, status="invalid", ci_low=None, ci_high=None, n=None,
                 error="model crashed <script>alert(1)</script>"),
            _sub(3, 20, 0.45),
            _sub(4, 30, 0.41)]
    (run / "workspace").mkdir()
    (run / "workspace.records").mkdir()  # the grader's own records, beside the workspace
    (run / "workspace.records" / "scores.jsonl").write_text("".join(json.dumps(s) + "\n" for s in subs))
    _write_code(run)
    failures = [{"time": START + 400, "kind": "crash", "detail": "CUDA error"},
                {"time": START + 700, "kind": "nan_loss", "detail": "loss is nan at step 12"},
                {"time": START + 900, "kind": "crash", "detail": "segfault"}]
    (run / "failures.jsonl").write_text("".join(json.dumps(f) + "\n" for f in failures))
    return run


def test_metrics_of_the_fixture_run_match_hand_computation(tmp_path):
    run = make_run(tmp_path)
    metrics = compute_metrics(run)
    assert not (run / "reports").exists()  # computing metrics writes nothing
    assert metrics == {
        "n_submissions": 4, "n_valid": 3, "valid_submission_rate": 0.75, "first_valid_submission_index": 1,
        "first_valid_submission_delay_s": 300.0, "baseline_score": 0.30, "best_score": 0.45, "best_ci": [0.40, 0.50],
        "improvement": 0.15, "time_to_first_improvement_s": 1200.0, "time_to_best_s": 1200.0,
        "monotonic_ratio": 0.5,  # 0.28 -> 0.45 up, 0.45 -> 0.41 down; the invalid one is not a pair member
        "copied_base_model_submissions": 1, "copied_model_submissions": 0, "model_substituted_submissions": 0,
        "refused_submissions": 0, "time_used_ratio": 0.833, "last_submission_gap_s": 1800.0,
        "code_revisions": 4,  # rev-0003 and rev-0006 changed nothing
        "training_routes": ["GRPO", "SFT"],
        "final_routes": ["GRPO"],  # the best, sub-0003: its revision made train.py GRPO since sub-0001's
        "failure_types": {"agent_exit_2": 1, "crash": 2, "invalid_submission": 1, "nan_loss": 1},
        "final_score": None, "final_note": "no final grade recorded",  # a run recorded before final grades
        "task": "gsm8k-rule", "agent": "rdagent", "driver": "fake", "run_id": "run-0001",
        "sandbox": None,  # a record written before the agent sandbox names none
    }


def test_write_report_writes_every_file_and_the_narrative(tmp_path):
    run = make_run(tmp_path)
    metrics = write_report(run)
    reports = run / "reports"
    assert json.loads((reports / "metrics.json").read_text()) == metrics
    for name in ("score_vs_time", "timeline", "code_churn"):
        data = (reports / "figures" / f"{name}.png").read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000

    md = (reports / "report.md").read_text()
    sections = md.split("\n### ")[1:]
    assert [s.split(" ")[0] for s in sections] == ["sub-0001", "sub-0002", "sub-0003", "sub-0004"]
    first, invalid, third, fourth = sections
    assert "COPIED BASE MODEL" in first and "COPIED" not in third
    # sub-0001 against the start revision: utils.py added, train.py changed, churn of rev-0002 + rev-0003
    assert "Added: `utils.py`" in first and "Changed: `train.py`" in first and "+3 / -0 over 2 revision(s)" in first
    assert "```diff\n--- a/train.py" in first and "+import utils" in first
    assert "invalid: `model crashed <script>alert(1)</script>`" in invalid
    assert "No code changes since the previous submission." in invalid and "No code changes" in fourth
    # sub-0003: net change from rev-0003 to rev-0005, lines summed over rev-0004 and rev-0005, long diff cut
    assert "Added: `notes.md`" in third and "Removed: `utils.py`" in third and "Changed: `train.py`" in third
    assert "+101 / -3 over 2 revision(s)" in third
    assert "+line 76" in third and "+line 77" not in third and "(23 more lines)" in third
    assert "+trainer = GRPOTrainer(model)" in third
    for name in ("score_vs_time", "timeline", "code_churn"):
        assert f"(figures/{name}.png)" in md

    page = (reports / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert all(f"sub-000{i}" in page for i in range(1, 5)) and "COPIED BASE MODEL" in page
    assert '<img src="figures/timeline.png"' in page and "<pre><code>" in page


def test_a_run_without_submissions_or_revisions_still_gets_a_report(tmp_path):
    run = tmp_path / "empty"
    _write_record(run, end=None, agent_exit=None, killed_at_deadline=True, baseline=None, driver=None)
    metrics = write_report(run)
    assert metrics["n_submissions"] == 0 and metrics["n_valid"] == 0 and metrics["code_revisions"] == 0
    for key in ("valid_submission_rate", "first_valid_submission_index", "first_valid_submission_delay_s",
                "baseline_score", "best_score", "best_ci", "improvement", "time_to_first_improvement_s",
                "time_to_best_s", "monotonic_ratio", "last_submission_gap_s", "driver"):
        assert metrics[key] is None, key
    assert metrics["time_used_ratio"] == 1.0  # no end recorded: the run is charged up to its deadline
    assert metrics["training_routes"] == [] and metrics["failure_types"] == {"deadline_kill": 1}
    assert "No submissions were made during this run." in (run / "reports" / "report.md").read_text()
    assert (run / "reports" / "report.html").is_file()
    assert all((run / "reports" / "figures" / f"{n}.png").read_bytes().startswith(PNG_SIGNATURE)
               for n in ("score_vs_time", "timeline", "code_churn"))


def test_a_truncated_last_score_line_is_skipped(tmp_path):
    run = tmp_path / "torn"
    _write_record(run)
    (run / "workspace").mkdir()
    (run / "workspace.records").mkdir()
    lines = [json.dumps(_sub(1, 5, 0.20)), json.dumps(_sub(2, 9, 0.35))]
    (run / "workspace.records" / "scores.jsonl").write_text("\n".join(lines) + '\n{"id": "sub-0003", "time": 17000')
    metrics = compute_metrics(run)
    assert metrics["n_submissions"] == 2 and metrics["best_score"] == 0.35 and metrics["monotonic_ratio"] == 1.0
    assert metrics["training_routes"] == [] and metrics["time_to_first_improvement_s"] == 540.0


def test_training_routes_come_from_code_not_from_docstrings(tmp_path):
    """A shared helper that only names SFTConfig in its docstring (templates/common.py) is no SFT route;
    a script that does not parse is still searched as text."""
    run = tmp_path / "routes"
    _write_record(run)
    snaps = run / "snapshots"
    (snaps / "objects").mkdir(parents=True)
    files = {"common.py": '"""Arguments for TRL\'s SFTConfig / GRPOConfig."""\n# PPOTrainer later\nX = "DPOTrainer"\n',
             "train.py": "from trl import GRPOConfig\nimport trl\ntrainer = trl.GRPOTrainer(model)\n",
             "draft.py": "from trl import DPOTrainer\nthis is not python(\n"}
    digests = {}
    for name, text in files.items():
        digests[name] = hashlib.sha256(text.encode()).hexdigest()
        (snaps / "objects" / digests[name]).write_text(text)
    revision = {"id": "rev-0001", "time": START, "reason": "start", "files": digests, "added": sorted(files)}
    (snaps / "revisions.jsonl").write_text(json.dumps(revision) + "\n")
    assert compute_metrics(run)["training_routes"] == ["DPO", "GRPO"]


def test_the_online_template_is_the_online_rl_route_and_the_final_checkpoint_names_its_own_code(tmp_path):
    """templates/grpo_online.py (GRPO whose rollouts play the task's environment) is GRPO and online RL; the final
    checkpoint's routes are those of the code changed since the previous valid submission (SFT first, then the
    online script): the run used both, its final checkpoint came from online RL."""
    from rdagent_autorl.settings import get_settings

    templates = get_settings().templates_dir
    run = tmp_path / "online"
    _write_record(run)
    snaps = run / "snapshots"
    (snaps / "objects").mkdir(parents=True)
    digests = {}
    for name in ("sft_trajectories.py", "grpo_online.py"):
        data = (templates / name).read_bytes()
        digests[name] = hashlib.sha256(data).hexdigest()
        (snaps / "objects" / digests[name]).write_bytes(data)
    revisions = [{"id": "rev-0001", "time": START + 60, "reason": "submission", "submission_id": "sub-0001",
                  "files": {"sft_trajectories.py": digests["sft_trajectories.py"]}},
                 {"id": "rev-0002", "time": START + 600, "reason": "submission", "submission_id": "sub-0002",
                  "files": dict(digests)}]
    (snaps / "revisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in revisions))
    (run / "workspace").mkdir()
    (run / "workspace.records").mkdir()
    (run / "workspace.records" / "scores.jsonl").write_text(
        "".join(json.dumps(s) + "\n" for s in (_sub(1, 1, 0.2), _sub(2, 10, 0.5))))
    metrics = compute_metrics(run)
    assert metrics["training_routes"] == ["GRPO", "SFT", "online RL"]
    assert metrics["final_routes"] == ["GRPO", "online RL"]
