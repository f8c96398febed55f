"""Scoring a checkpoint: evaluate(), the result/baseline caches, and the grading run's rules."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from conftest import perturbed_copy
from rdagent_autorl.grading.evaluate import bootstrap_ci, evaluate, make_config
from rdagent_autorl.grading.run import SCORES, GradingRun, SubmissionError
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks import get_task


def test_bootstrap_ci_brackets_the_mean():
    low, high = bootstrap_ci([True] * 30 + [False] * 70)
    assert low < 30 < high and 15 < low and high < 45
    assert bootstrap_ci([True] * 10) == (100.0, 100.0)
    assert bootstrap_ci([]) == (0.0, 0.0)


def test_evaluate_writes_samples_and_caches_by_content(tiny_model, math_task_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTORL_CACHE_DIR", str(tmp_path / "cache"))  # its own cache: other files grade this task too
    get_settings.cache_clear()
    task = get_task(str(math_task_dir))
    config = make_config(task, "hf")
    first = evaluate(task, tiny_model, config, out_dir=tmp_path)
    assert first.n == 3 and 0 <= first.score <= 100 and not first.cached
    assert first.ci_low <= first.score <= first.ci_high
    rows = [json.loads(line) for line in open(first.samples_path)]
    assert [r["id"] for r in rows] == [s.id for s in task.heldout()]
    assert {"prompt", "completion", "extracted", "value", "correct"} <= set(rows[0])
    assert all(r["correct"] == (r["value"] == 1.0) for r in rows)
    assert first.score == round(100 * sum(r["value"] for r in rows) / 3, 2)

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)  # new path and mtimes, same content
    again = evaluate(task, copy, config)
    assert again.cached and again.score == first.score
    assert not evaluate(task, copy, make_config(task, "hf", limit=2)).cached  # another eval config


def test_graded_values_average_into_the_score_with_extra_metrics(tiny_model, math_task_dir, tmp_path):
    """A task whose samples are worth fractions (a judge's tie, an F1): the score is the mean value x 100,
    the interval is over the values, and per-sample metrics and aggregates are reported beside it."""
    from dataclasses import replace

    from rdagent_autorl.types import ScoredSample

    def half_credit(samples, transcripts, judge):
        return [ScoredSample(id=s.id, prompt=s.prompt, completion=t.completion, value=v, metrics={"recall": v / 2})
                for s, t, v in zip(samples, transcripts, (0.5, 1.0, 0.0))]

    task = replace(get_task(str(math_task_dir)), scorer=half_credit,
                   aggregate=lambda samples, scored: {"best_value": max(s.value for s in scored)})
    result = evaluate(task, tiny_model, make_config(task, "hf"), out_dir=tmp_path, use_cache=False)
    assert (result.score, result.n, result.n_correct) == (50.0, 3, None)  # 0.5 is neither right nor wrong
    assert result.ci_low < 50.0 < result.ci_high
    assert result.metrics["recall"]["mean"] == 0.25 and result.metrics["recall"]["n"] == 3
    assert result.metrics["best_value"] == {"value": 1.0}


def test_the_cache_key_changes_with_the_task_version_its_protocol_files_and_the_judge(math_task_dir, monkeypatch):
    from dataclasses import replace

    from rdagent_autorl.settings import get_settings

    task = get_task(str(math_task_dir))
    key = make_config(task, "hf").digest()
    assert make_config(get_task(str(math_task_dir)), "hf").digest() == key  # stable
    assert make_config(replace(task, version=2), "hf").digest() != key
    (math_task_dir / "task.yaml").write_text((math_task_dir / "task.yaml").read_text() + "max_new_tokens: 8\n")
    changed = get_task(str(math_task_dir))  # same settings, but a protocol file (task.yaml) has new bytes
    assert changed.budget == task.budget and make_config(changed, "hf").digest() != key

    judged = replace(task, uses_judge=True)
    monkeypatch.setenv("AUTORL_JUDGE_MODEL", "judge-a")
    get_settings.cache_clear()
    key_a = make_config(judged, "hf")
    monkeypatch.setenv("AUTORL_JUDGE_MODEL", "judge-b")
    get_settings.cache_clear()
    key_b = make_config(judged, "hf")
    get_settings.cache_clear()
    assert "judge-a" in key_a.judge and key_a.digest() != key_b.digest() != key


@pytest.fixture()
def run(tiny_model, math_task_dir, tmp_path):
    return GradingRun.open(tmp_path / "ws", task=str(math_task_dir), base_model=str(tiny_model), timeout_s=3600)


def _checkpoint(run, tiny_model, name="v1", perturb=False):
    dest = run.output_dir / name
    if perturb:  # different weights, same architecture
        return perturbed_copy(tiny_model, dest)
    shutil.copytree(tiny_model, dest)
    return dest


def test_submit_records_scores_durably(run, tiny_model):
    _checkpoint(run, tiny_model, "v1", perturb=True)
    first = run.submit("output/v1")
    assert first.id == "sub-0001" and first.status == "scored" and not first.copied_base_model
    assert first.improvement == round(first.score - first.baseline_score, 2)
    assert first.best_so_far == first.score and first.total_submissions == 1

    _checkpoint(run, tiny_model, "v2")  # a byte-identical copy of the base model
    second = run.submit(str(run.output_dir / "v2"))
    assert second.copied_base_model and second.cached  # same content as the baseline: no re-evaluation
    assert second.best_so_far == max(first.score, second.score) and second.total_submissions == 2

    lines = (run.workspace / SCORES).read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["sub-0001", "sub-0002"]
    reopened = GradingRun.open(run.workspace)
    assert [s.id for s in reopened.submissions()] == ["sub-0001", "sub-0002"]
    assert reopened.meta.start == run.meta.start and reopened.meta.last_submission is not None


def test_what_the_agent_does_to_its_copies_of_the_records_changes_no_record(run, tiny_model, tmp_path):
    """scores.jsonl and refusals.jsonl in the workspace are copies for the agent: a forged line appended,
    a deleted file or a copy turned into a link to a harness file changes nothing the grader or report reads."""
    from rdagent_autorl.bench.run_data import load_run
    from rdagent_autorl.grading.run import REFUSALS

    _checkpoint(run, tiny_model, "v1", perturb=True)
    first = run.submit("output/v1")
    with pytest.raises(SubmissionError):
        run.submit("output/missing")
    assert (run.workspace / SCORES).exists() and (run.workspace / REFUSALS).exists()  # the agent's copies

    forged = first.model_copy(update={"id": "sub-0099", "score": 100.0, "best_so_far": 100.0, "improvement": 99.0})
    with (run.workspace / SCORES).open("a") as f:
        f.write(forged.model_dump_json() + "\n")
    (run.workspace / REFUSALS).unlink()
    victim = tmp_path / "harness-file"  # e.g. the ledger: the grader must not write through the agent's link
    victim.write_text("untouched\n")
    (run.workspace / SCORES).unlink()
    (run.workspace / SCORES).symlink_to(victim)

    _checkpoint(run, tiny_model, "v2")
    second = run.submit("output/v2")
    assert [s.id for s in run.submissions()] == ["sub-0001", "sub-0002"]
    assert second.best_so_far == max(first.score, second.score) < 100.0
    assert victim.read_text() == "untouched\n"
    assert [s.id for s in GradingRun.open(run.workspace).submissions()] == ["sub-0001", "sub-0002"]

    # The report reads the grader's records too (a harness run folder: <run>/workspace + <run>/workspace.records).
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "workspace").symlink_to(run.workspace)
    (run_dir / "workspace.records").symlink_to(run.records_dir)
    (run_dir / "record.json").write_text(json.dumps({"run_id": "r", "task": "t", "agent": "a", "base_model": "b",
                                                     "timeout_s": 60, "start": run.meta.start}))
    data = load_run(run_dir)
    assert [s.id for s in data.submissions] == ["sub-0001", "sub-0002"] and len(data.refusals) == 1


def test_the_workspace_copy_of_the_run_metadata_is_never_read_back(run, tmp_path):
    """run_meta.json in the workspace is the agent's copy: an agent that gives itself more time, moves its
    start or swaps the base model there changes nothing; a link planted there is replaced, never written
    through; a workspace the grader has no record of is a clear error, not a run made from the agent's file."""
    from rdagent_autorl.grading.run import RUN_META

    copy = run.workspace / RUN_META
    forged = json.loads(copy.read_text()) | {"timeout_s": 10**9, "start": run.meta.start + 10**6, "base_model": "/x"}
    copy.write_text(json.dumps(forged))
    reopened = GradingRun.open(run.workspace)
    assert (reopened.meta.timeout_s, reopened.meta.start, reopened.meta.base_model) == \
        (run.meta.timeout_s, run.meta.start, run.meta.base_model)
    assert json.loads(copy.read_text())["timeout_s"] == run.meta.timeout_s  # the copy is rewritten from the record

    victim = tmp_path / "harness-file"
    victim.write_text("untouched\n")
    copy.unlink()
    copy.symlink_to(victim)
    reopened.save_meta()
    assert victim.read_text() == "untouched\n" and not copy.is_symlink()
    assert not [p for p in run.workspace.iterdir() if p.name.endswith(".tmp")]  # nothing left aside

    stray = tmp_path / "stray-ws"
    stray.mkdir()
    (stray / RUN_META).write_text(copy.read_text())
    with pytest.raises(FileNotFoundError, match="no grader record"):
        GradingRun.open(stray)


def test_a_line_torn_by_a_crash_is_skipped(run):
    (run.records_dir / SCORES).parent.mkdir(parents=True, exist_ok=True)
    (run.records_dir / SCORES).write_text('{"id": "sub-0001", "time": 1, "model_path": "output/a", "status": "invalid", '
                                        '"total_submissions": 1}\n{"id": "sub-00')
    assert [s.id for s in run.submissions()] == ["sub-0001"]


def test_bad_paths_are_refused_without_reading_outside(run, tiny_model, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(tiny_model, outside)
    (run.output_dir / "link").symlink_to(outside)
    (run.output_dir / "empty").mkdir()
    (run.output_dir / "file.txt").write_text("x")
    cases = {
        str(outside): 403, "output/../../outside": 403, "output/link": 403, "/etc": 403, "output/v9\0x": 400,
        "": 400, "output/missing": 404, "output/empty": 422, "output/file.txt": 422, "output": 422,
    }
    for path, status in cases.items():
        with pytest.raises(SubmissionError) as err:
            run.submit(path)
        assert err.value.status == status, (path, err.value.reason)
        assert err.value.reason
    assert run.submissions() == []  # refused requests are not submissions


def test_unknown_gpu_and_closed_budget(run, tiny_model):
    _checkpoint(run, tiny_model)
    with pytest.raises(SubmissionError) as err:
        run.submit("output/v1", gpu="3")
    assert err.value.status == 400 and "cpu" in err.value.reason
    run.meta.start = time.time() - 7200
    with pytest.raises(SubmissionError) as err:
        run.submit("output/v1")
    assert err.value.status == 409


def test_a_checkpoint_that_does_not_load_is_an_invalid_submission(run, tiny_model):
    broken = _checkpoint(run, tiny_model, "broken")
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(SubmissionError) as err:
        run.submit("output/broken")
    assert err.value.status == 422 and "sub-0001" in err.value.reason
    (record,) = run.submissions()
    assert record.status == "invalid" and record.score is None and record.error
    assert "grade" in (run.records_dir / "grader.log").read_text()


def test_baseline_is_computed_once_per_content(run, tiny_model, monkeypatch, tmp_path):
    import rdagent_autorl.grading.run as run_module
    from rdagent_autorl.settings import get_settings

    monkeypatch.setenv("AUTORL_CACHE_DIR", str(tmp_path / "fresh-cache"))  # the worker inherits it
    get_settings.cache_clear()
    calls = []
    real = run_module.run_grade_worker
    monkeypatch.setattr(run_module, "run_grade_worker", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = run.baseline()
    other = GradingRun.open(run.workspace.parent / "ws2", task=run.meta.task, base_model=run.meta.base_model, timeout_s=60)
    assert other.baseline().score == first.score
    assert len(calls) == 1  # the second run (same base content and eval config) reads the cache
    assert os.path.exists(first.samples_path)
    monkeypatch.delenv("AUTORL_CACHE_DIR")
    get_settings.cache_clear()


def test_custom_task_folder_is_stored_absolute(tiny_model, math_task_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(math_task_dir.parent)
    run = GradingRun.open(tmp_path / "ws-rel", task=math_task_dir.name, base_model=str(tiny_model), timeout_s=60)
    assert run.meta.task == str(math_task_dir.resolve())
    monkeypatch.chdir(tmp_path)
    assert GradingRun.open(tmp_path / "ws-rel").task.id == "mini-math"
