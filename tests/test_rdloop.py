"""The RD-Agent loop end to end on the tiny model, driven by FAKE drivers at the LLM boundary
(tests/fake_drivers.py): real templates, real dry runs and training subprocesses, the real grader."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

import fake_drivers

pytestmark = pytest.mark.timeout(1800)  # a hang guard only: a busy machine may take several times longer
SKIP_IN_CWD = {".pytest_cache"}


@contextmanager
def driver(name: str):
    saved = os.environ.get("BACKEND")
    os.environ["BACKEND"] = f"fake_drivers.{name}"
    fake_drivers.calls.clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("BACKEND", None)
        else:
            os.environ["BACKEND"] = saved


def start(home: Path, *, loop_n: int, name: str, limit: int = 16, timeout_s: int = 1200, task: str = "gsm8k-rule",
          data: str = "synthetic"):
    from rdagent_autorl.rdloop import session

    return session.new_run(task, "tiny", data=data, gpus=[], loop_n=loop_n, timeout_s=timeout_s,
                           smoke=True, driver=f"backend fake_drivers.{name}", limit=limit, runs_dir=home / "runs")


def trace_tags(run_dir: Path) -> list[str]:
    """Every logged object's tag path, e.g. 'Loop_0.running.docker_run' (as RD-Agent's viewer reads it)."""
    trace = run_dir / "trace"
    return [".".join(p.relative_to(trace).parts[:-2]) for p in trace.rglob("*.pkl")]


@pytest.fixture(scope="module")
def finished_run(_isolated_env, tiny_model, tmp_path_factory):
    """Two loops with the fast scripted plan, run from an empty working directory."""
    from rdagent_autorl.rdloop import session

    cwd = tmp_path_factory.mktemp("cwd")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with driver("FastPlanDriver"):
            ctx, run = start(_isolated_env, loop_n=2, name="FastPlanDriver")
            board = session.execute(ctx, run)
            calls = list(fake_drivers.calls)
    finally:
        os.chdir(old)
    return {"ctx": ctx, "board": board, "calls": calls, "cwd": cwd}


def test_two_loops_train_submit_and_learn(finished_run):
    board, ctx = finished_run["board"], finished_run["ctx"]
    assert [r["loop"] for r in board["loops"]] == [0, 1]
    for row in board["loops"]:
        assert row["training"].startswith("training ok"), row
        assert row["score"] is not None and row["checkpoint"] == f"output/loop_{row['loop']:02d}"
    assert board["loops"][1]["init_from"] == "best"  # the plan's second step starts from loop 0's checkpoint
    base = board["baseline"]["score"]
    assert board["loops"][0]["decision"] == (board["loops"][0]["score"] > base)
    assert board["scores"] == str(ctx.workspace.parent / "workspace.records" / "scores.jsonl")  # the grader's own
    submissions = [json.loads(line) for line in Path(board["scores"]).read_text().splitlines()]
    assert [s["model_path"] for s in submissions] == ["output/loop_00", "output/loop_01"]
    assert json.loads((ctx.run_dir / "scoreboard.json").read_text())["loops"] == board["loops"]
    # The code of each loop stays in the workspace's code/ folder, rendered with the loop's config.
    script = (ctx.workspace / "code" / "loop_01" / "train.py").read_text()
    assert "\"version\": 'loop_01'" in script and "\"max_steps\": 4" in script
    # Recorded and reported like a benchmark run: a code revision per submission, metrics, a ledger row.
    revisions = [json.loads(line) for line in (ctx.run_dir / "snapshots" / "revisions.jsonl").read_text().splitlines()]
    assert [r["submission_id"] for r in revisions if r["reason"] == "submission"] == ["sub-0001", "sub-0002"]
    metrics = json.loads((ctx.run_dir / "reports" / "metrics.json").read_text())
    assert (metrics["agent"], metrics["n_submissions"], metrics["training_routes"]) == ("rdagent", 2, ["SFT"])
    assert metrics["best_score"] == max(r["score"] for r in board["loops"])
    from rdagent_autorl.bench.ledger import runs
    from rdagent_autorl.bench.run_record import read_record

    assert any(r["run_id"] == ctx.run_dir.name and (r["agent"], r["entry"]) == ("rdagent", "loop") for r in runs())
    # The harness's record: the same agent as `bench --agent rdagent`, told apart by its entry point; one clock,
    # started after the baseline, that the grader, the loop's run.json and the record share.
    rec = read_record(ctx.run_dir)
    assert (rec.agent, rec.entry, rec.driver) == ("rdagent", "loop", board["driver"])
    assert board["driver"] == "backend fake_drivers.FastPlanDriver" and rec.agent_exit == 0
    meta = json.loads((ctx.workspace / "run_meta.json").read_text())
    assert rec.deadline == rec.start + rec.timeout_s == meta["start"] + meta["timeout_s"]
    assert json.loads((ctx.run_dir / "run.json").read_text())["deadline"] == rec.deadline
    assert rec.baseline.score == board["baseline"]["score"]
    # Each step asked the driver the expected question, in order.
    assert [step for step, _ in finished_run["calls"]] == ["proposal", "coder", "feedback"] * 2
    assert "Best so far: none" in finished_run["calls"][0][1]
    assert "loop 0: SFT warm-up" in finished_run["calls"][3][1]  # loop 1's proposal sees loop 0's result


def test_nothing_lands_in_the_working_directory(finished_run):
    assert {p.name for p in finished_run["cwd"].iterdir()} - SKIP_IN_CWD == set()


def test_trace_has_every_step_with_the_viewer_tags(finished_run):
    tags = trace_tags(finished_run["ctx"].run_dir)
    assert "scenario" in tags
    for loop in (0, 1):
        for tag in ("direct_exp_gen.hypothesis generation", "direct_exp_gen.experiment generation",
                    "coding.evo_loop_0.evolving code", "running.docker_run", "running.benchmark", "feedback.feedback"):
            assert f"Loop_{loop}.{tag}" in tags, (loop, tag, sorted(set(tags)))
    sessions = finished_run["ctx"].run_dir / "trace" / "__session__"
    assert sorted(p.name for p in (sessions / "1").iterdir()) == [
        "0_direct_exp_gen", "1_coding", "2_running", "3_feedback", "4_record"]


def test_format_scoreboard_names_baseline_loops_best_and_paths(finished_run):
    from rdagent_autorl.rdloop.session import format_scoreboard

    text = format_scoreboard(finished_run["board"])
    for needle in ("baseline:", "loop 0: SFT warm-up", "loop 1: SFT (continued)", "best:", "trace:", "workspace:",
                   "scores:", "rdagent autorl ui"):
        assert needle in text
    # gsm8k-rule's synthetic source declares no final part: the scoreboard says so rather than invent a score
    assert "final: none (source 'synthetic' of gsm8k-rule has no final part" in text


def test_coder_rejects_a_broken_script_and_the_repair_round_fixes_it(_isolated_env, tiny_model):
    from rdagent_autorl.rdloop import session

    with driver("BreaksThenRepairsDriver"):
        ctx, run = start(_isolated_env, loop_n=1, name="BreaksThenRepairsDriver")
        board = session.execute(ctx, run)
        calls = list(fake_drivers.calls)
    coder_calls = [user for step, user in calls if step == "coder"]
    assert len(coder_calls) == 2
    assert "FAILED its checks" in coder_calls[1] and "syntax error" in coder_calls[1]
    assert fake_drivers.BROKEN_LINE not in (ctx.workspace / "code" / "loop_00" / "train.py").read_text()
    assert board["loops"][0]["score"] is not None
    # The rejected version never reached a dry run: only the repaired one did.
    assert len(list(ctx.logs_dir.glob("loop_00-dryrun-*.log"))) == 1
    feedback_files = sorted((ctx.run_dir / "trace" / "Loop_0" / "coding").glob("evo_loop_*/evolving feedback/*/*.pkl"))
    assert len(feedback_files) == 2


def test_invalid_proposal_is_asked_again_with_the_validation_error(_isolated_env, tiny_model):
    from rdagent_autorl.rdloop import session

    with driver("InvalidProposalOnceDriver"):
        ctx, run = start(_isolated_env, loop_n=1, name="InvalidProposalOnceDriver")
        board = session.execute(ctx, run)
        calls = [user for step, user in fake_drivers.calls if step == "proposal"]
    assert len(calls) == 2
    assert "previous answer was rejected" in calls[1] and "learning_rat" in calls[1]
    assert board["loops"][0]["score"] is not None


def test_a_driver_that_never_answers_validly_stops_the_run_with_a_clear_error(_isolated_env, tiny_model):
    from rdagent_autorl.rdloop import session
    from rdagent_autorl.rdloop.driver import DriverError

    with driver("NeverValidDriver"):
        ctx, run = start(_isolated_env, loop_n=1, name="NeverValidDriver")
        with pytest.raises(DriverError, match="no valid TrainingProposal in 3 tries"):
            session.execute(ctx, run)
        assert len(fake_drivers.calls) == 3
    # What the run recorded stays: the baseline submission state, run.json and an (empty) scoreboard.
    assert json.loads((ctx.run_dir / "scoreboard.json").read_text())["loops"] == []
    assert (ctx.run_dir / "run.json").exists()


def test_rdagent_trace_viewer_shows_every_loop(finished_run, monkeypatch):
    """RD-Agent's RL trace viewer, driven as a person would with `rdagent autorl ui RUN` (RL_LOG_PATH=. in
    the run folder): Single Task view, Log Folder '.', the session loads and shows each loop's
    hypothesis, code, run result, score and feedback."""
    import importlib.util
    import warnings

    from streamlit.testing.v1 import AppTest

    board, ctx = finished_run["board"], finished_run["ctx"]
    monkeypatch.chdir(ctx.run_dir)
    monkeypatch.setenv("RL_LOG_PATH", ".")
    warnings.filterwarnings("ignore", category=FutureWarning)  # pandas warnings inside rdagent's summary page
    at = AppTest.from_file(importlib.util.find_spec("rdagent.app.rl.ui.app").origin, default_timeout=120)
    at.run()
    at.sidebar.radio[0].set_value("Single Task").run()
    at.sidebar.text_input[0].set_value(".").run()
    assert not at.exception and not at.error
    assert at.sidebar.selectbox[0].value == "trace"
    labels = [e.label for e in at.expander]
    markdown = "\n".join(m.value for m in at.markdown)
    code = "\n".join(c.value for c in at.code)
    json_bodies = "\n".join(j.value for j in at.json)
    assert dict((m.label, m.value) for m in at.metric)["Loops"] == "2"
    for row in board["loops"]:
        assert any(label.startswith(f"🔄 **Loop {row['loop']}** 🐳✓") for label in labels)
        assert row["hypothesis"] in markdown
        assert f"\"version\": 'loop_{row['loop']:02d}'" in code  # the loop's train.py
        assert f"SAVED {ctx.workspace}/output/loop_{row['loop']:02d}" in code  # the run's output
        assert f'"model_path": "output/loop_{row["loop"]:02d}"' in json_bodies and f'"score": {row["score"]}' in json_bodies
        assert row["feedback"].split(".")[0] in code  # "score X vs best so far Y (baseline Z): ..."


def test_loop_on_alfworld_uses_the_online_templates(_isolated_env, tiny_model):
    """Level 3: the loop proposes, renders, dry-runs, trains and submits SFT-on-trajectories and then
    online GRPO from that checkpoint, on generated ALFWorld games with the real engine."""
    from rdagent_autorl.rdloop import session

    with driver("FastOnlinePlanDriver"):
        ctx, run = start(_isolated_env, loop_n=2, name="FastOnlinePlanDriver", limit=4, task="alfworld-online",
                         data="smoke")
        board = session.execute(ctx, run)
    assert [r["template"] for r in board["loops"]] == ["sft_trajectories", "grpo_online"]
    for row in board["loops"]:
        assert row["training"].startswith("training ok"), row
        assert row["score"] is not None
    code = ctx.run_dir / "workspace" / "code"
    assert "rollout_func" in (code / "loop_01" / "train.py").read_text()
    logs = "".join(p.read_text() for p in (ctx.run_dir / "logs").glob("*train.log"))
    assert "TRAJECTORIES games=12 won=12" in logs and "ROLLOUT step=0" in logs
