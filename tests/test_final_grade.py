"""Final scores without selection bias (grading/final.py): submissions are scored on the held-out split's
selection part only; at the end the chosen checkpoint (declared final, else the best selection score) is
graded once on the final part, from the grader's kept snapshot, next to the base model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import perturbed_copy
from rdagent_autorl.grading.final import FINAL, grade_final, read_final
from rdagent_autorl.grading.run import FINAL_CANDIDATES, GradingRun
from rdagent_autorl.grading.service import create_app

ROWS = [{"question": f"What is {a} plus {b}?", "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}
        for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 2), (9, 1), (4, 4), (6, 3), (8, 1)]]


def _task(folder: Path, selection_size: int | None) -> Path:
    folder.mkdir()
    (folder / "task.yaml").write_text("id: final-math\ntitle: Final math\nscorer: math\nmax_new_tokens: 8\n"
                                      + (f"selection_size: {selection_size}\n" if selection_size else ""))
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:3]))
    (folder / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[3:]))
    return folder


@pytest.fixture()
def run(tiny_model, tmp_path):
    return GradingRun.open(tmp_path / "ws", task=str(_task(tmp_path / "task", 4)), base_model=str(tiny_model),
                           timeout_s=3600)


def test_the_parts_split_the_heldout_rows_and_submissions_see_only_the_selection(run, tiny_model):
    from rdagent_autorl.grading.evaluate import evaluate, make_config

    selection, final = run.task.heldout_part("folder", "selection"), run.task.heldout_part("folder", "final")
    assert [s.prompt for s in selection] == [r["question"] for r in ROWS[3:7]]
    assert [s.prompt for s in final] == [r["question"] for r in ROWS[7:]]
    shutil.copytree(tiny_model, run.output_dir / "v1")
    assert run.submit("output/v1").n == 4
    graded = evaluate(run.task, tiny_model, make_config(run.task, data_source="folder", part="final"))
    prompts = [json.loads(line)["prompt"] for line in Path(graded.samples_path).read_text().splitlines()]
    assert graded.n == 2 and prompts == [r["question"] for r in ROWS[7:]]


def test_the_best_submission_is_graded_on_the_final_part_from_its_kept_snapshot(run, tiny_model):
    # weights no other test grades: the final grade must come from the kept snapshot, not the grade cache
    first = run.submit(str(perturbed_copy(tiny_model, run.output_dir / "v1", byte=-5)))
    second = run.submit(str(perturbed_copy(tiny_model, run.output_dir / "v2", byte=-9)))
    chosen = run.final_candidate()
    best = max([first, second], key=lambda s: s.score)  # of equal scores, the first
    assert chosen.id == best.id
    kept = sorted(p.name for p in (run.records_dir / FINAL_CANDIDATES).iterdir())
    assert kept == [best.id] and list(run.snapshot_root.iterdir()) == []  # one snapshot kept, the rest gone
    shutil.rmtree(run.output_dir)  # the agent cleans up: the kept bytes are graded regardless
    run.output_dir.mkdir()

    grade = grade_final(run)
    assert grade.available and grade.submission_id == best.id and not grade.declared
    assert grade.n == 2 and grade.selection_score == best.score and grade.model_hash == best.model_hash
    assert grade.baseline_score is not None and grade.improvement == round(grade.score - grade.baseline_score, 2)
    assert read_final(run.records_dir) == grade and (run.records_dir / FINAL).exists()
    assert grade.summary().startswith(f"{grade.score} (95% CI {grade.ci_low}-{grade.ci_high}, n=2) vs base ")
    assert grade.summary().endswith(f"final part: {best.id}, the best selection score, graded once")
    assert not (run.records_dir / FINAL_CANDIDATES).exists()  # graded and cached: the copy is removed
    # A resumed run ends again: the same checkpoint's final grade comes from the grade cache.
    again = grade_final(run)
    assert again.available and (again.score, again.submission_id) == (grade.score, grade.submission_id)


def test_a_checkpoint_declared_final_is_the_one_graded(run, tiny_model):
    client = TestClient(create_app(run))
    perturbed_copy(tiny_model, run.output_dir / "v1", byte=-25)  # each test's own weights: nothing cached
    perturbed_copy(tiny_model, run.output_dir / "v2", byte=-29)
    assert client.post("/submit", json={"model_path": "output/v1"}).status_code == 200
    declared = client.post("/submit", json={"model_path": "output/v2", "final": True}).json()
    assert declared["declared_final"] is True
    assert client.post("/submit", json={"model_path": "output/v1"}).json()["declared_final"] is False
    assert run.final_candidate().id == declared["id"]
    assert [p.name for p in (run.records_dir / FINAL_CANDIDATES).iterdir()] == [declared["id"]]
    grade = grade_final(run)
    assert grade.available and grade.declared and grade.submission_id == declared["id"]
    assert "declared final by the agent" in grade.summary()


def test_without_a_final_part_or_a_submission_there_is_no_final_score_and_it_says_why(tiny_model, tmp_path):
    plain = GradingRun.open(tmp_path / "ws1", task=str(_task(tmp_path / "t1", None)), base_model=str(tiny_model),
                            timeout_s=3600)
    grade = grade_final(plain)
    assert not grade.available and "no final part" in grade.reason and grade.summary() == f"none ({grade.reason})"
    with_part = GradingRun.open(tmp_path / "ws2", task=str(_task(tmp_path / "t2", 4)), base_model=str(tiny_model),
                                timeout_s=3600)
    grade = grade_final(with_part)
    assert not grade.available and grade.reason == "no scored submission"


def test_a_selection_size_leaving_no_final_part_is_a_clear_error(tiny_model, tmp_path):
    from rdagent_autorl.tasks import TaskError, get_task

    task = get_task(_task(tmp_path / "t", 6))
    with pytest.raises(TaskError, match="declares 6 selection items but holds out only 6"):
        task.heldout_part("folder", "final")
    with pytest.raises(TaskError, match="held-out part must be one of"):
        task.heldout_part("folder", "test")


def test_a_kept_snapshot_changed_after_grading_is_refused_not_graded(run, tiny_model):
    # weights no other test grades: their final grade is not in the (session-wide) grade cache
    sub = run.submit(str(perturbed_copy(tiny_model, run.output_dir / "v1", byte=-21)))
    kept = run.kept_snapshot(sub.id) / "model.safetensors"
    data = bytearray(kept.read_bytes())
    data[-13] ^= 0x01  # what an unsandboxed agent could do beside its workspace while it runs
    kept.write_bytes(bytes(data))
    grade = grade_final(run)
    assert not grade.available and "changed since it was graded" in grade.reason and grade.submission_id == sub.id
    assert list(run.snapshot_root.iterdir()) == []  # the copy made to check it is gone
