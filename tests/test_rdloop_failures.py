"""How the loop survives failures: every runner failure class is reported (and the loop goes on),
and a stopped run resumes from its last finished step. FAKE drivers at the LLM boundary only."""

from __future__ import annotations

import json

import pytest

import fake_drivers
from test_rdloop import driver, start, trace_tags

pytestmark = pytest.mark.timeout(1800)  # a hang guard only: a busy machine may take several times longer

FAILING_SCRIPTS = {
    "crash": "raise RuntimeError('boom')\n",
    "timeout": "import time\ntime.sleep(120)\n",
    "oom": "import sys\nprint('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB')\nsys.exit(1)\n",
    "nan_loss": "print({'loss': 'nan', 'epoch': 1.0})\n",
    "no_model": "print('trained, but forgot to save')\n",
}


@pytest.mark.parametrize("kind", sorted(FAILING_SCRIPTS))
def test_runner_reports_each_failure_kind(kind, _isolated_env, tiny_model, monkeypatch):
    from rdagent_autorl.rdloop.conf import AUTORL_PROP_SETTING, set_run_context
    from rdagent_autorl.rdloop.experiment import (
        TrainingExperiment, TrainingHypothesis, TrainingProposal, TrainingTask, TrainingWorkspace,
    )
    from rdagent_autorl.rdloop.runner import AutoRLRunner, TrainingFailed
    from rdagent_autorl.rdloop.scenario import AutoRLScenario
    from rdagent_autorl.rdloop.session import configure_rdagent

    ctx, _ = start(_isolated_env, loop_n=1, name="FastPlanDriver")
    configure_rdagent(ctx.run_dir, scripted=True)
    set_run_context(ctx)
    monkeypatch.setattr(AUTORL_PROP_SETTING, "experiment_timeout_s", 3)
    proposal = TrainingProposal(**fake_drivers.FAST_PLAN[0])
    task = TrainingTask("loop_00", proposal, tiny_model)
    ws = TrainingWorkspace(task, ctx.workspace / "code" / "loop_00")
    ws.inject_files(**{"train.py": FAILING_SCRIPTS[kind]})
    exp = TrainingExperiment(task, TrainingHypothesis(proposal), 0)
    exp.sub_workspace_list = [ws]
    with pytest.raises(TrainingFailed, match=f"FAILED \\({kind}\\)"):
        AutoRLRunner(AutoRLScenario()).develop(exp)
    assert exp.outcome.failure == kind and exp.submission is None
    assert not (ctx.workspace / "scores.jsonl").exists()  # nothing was submitted


def test_a_failed_experiment_goes_to_feedback_and_the_loop_continues(_isolated_env, tiny_model):
    from rdagent_autorl.rdloop import session

    with driver("CrashesFirstLoopDriver"):
        ctx, run = start(_isolated_env, loop_n=2, name="CrashesFirstLoopDriver")
        board = session.execute(ctx, run)
        feedback_prompts = [user for step, user in fake_drivers.calls if step == "feedback"]
    first, second = board["loops"]
    assert first["failure"] == "crash" and first["score"] is None and not first["decision"]
    assert "simulated crash after the dry run passed" in first["feedback"]
    assert "FAILED (crash)" in feedback_prompts[0]  # the driver is shown what went wrong
    assert second["score"] is not None and second["init_from"] == "base"  # nothing scored yet to start from
    metrics = json.loads((ctx.run_dir / "reports" / "metrics.json").read_text())
    assert metrics["failure_types"] == {"crash": 1} and metrics["n_submissions"] == 1


def test_resume_continues_from_the_last_finished_step(_isolated_env, tiny_model):
    from rdagent_autorl.rdloop import session

    with driver("FastPlanDriver"):
        ctx, run = start(_isolated_env, loop_n=2, name="FastPlanDriver")
        # step_n=2: the run stops after loop 0's third step (running), as if it had been interrupted there.
        session.execute(ctx, run, step_n=2)
        assert [json.loads(line)["model_path"] for line in (ctx.workspace / "scores.jsonl").read_text().splitlines()] \
            == ["output/loop_00"]
        assert [step for step, _ in fake_drivers.calls] == ["proposal", "coder"]
        fake_drivers.calls.clear()
        # Killed while recording a code revision: the last line of revisions.jsonl is torn.
        revisions = ctx.run_dir / "snapshots" / "revisions.jsonl"
        before = revisions.read_text().splitlines()
        with revisions.open("a") as f:
            f.write('{"id": "rev-9999", "time": 17')

        ctx2, run2, saved = session.resume_run(ctx.run_dir, driver=ctx.driver)
        board = session.execute(ctx2, run2, session=saved)
    # Loop 0 resumed at feedback: no new proposal, code or training for it; then loop 1 ran in full.
    assert [step for step, _ in fake_drivers.calls] == ["feedback", "proposal", "coder", "feedback"]
    assert [r["loop"] for r in board["loops"]] == [0, 1] and all(r["score"] is not None for r in board["loops"])
    submissions = [json.loads(line)["model_path"] for line in (ctx.workspace / "scores.jsonl").read_text().splitlines()]
    assert submissions == ["output/loop_00", "output/loop_01"]
    assert trace_tags(ctx.run_dir).count("Loop_0.running.docker_run") == 1
    # The recorder went on after the torn line: every revision of both parts, numbered on, sub-0002's included.
    from rdagent_autorl.bench.recorder import read_revisions

    recorded = read_revisions(revisions.parent)
    assert [r.model_dump_json() for r in recorded[:len(before)]] == before
    assert [r.id for r in recorded] == [f"rev-{i:04d}" for i in range(1, len(recorded) + 1)]
    assert [r.submission_id for r in recorded if r.reason == "submission"] == ["sub-0001", "sub-0002"]
    metrics = json.loads((ctx.run_dir / "reports" / "metrics.json").read_text())
    assert metrics["n_submissions"] == 2 and metrics["code_revisions"] >= 2


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path):
    from rdagent_autorl.rdloop.session import find_run
    from rdagent_autorl.run.harness import RunError as SessionError

    with pytest.raises(SessionError, match="not inside an autorl run folder"):
        find_run(tmp_path)
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(SessionError, match="nothing to resume"):
        find_run(tmp_path)
