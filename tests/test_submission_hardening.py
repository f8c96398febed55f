"""A submission is graded from the grader's own private snapshot (issue 19, "Submissions"): symlinks are
refused, a folder swapped after the check does not change what is graded, oversized paths are 4xx, and
the answer tells the agent nothing of the held-out split or of other evaluations."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from fastapi.testclient import TestClient

from conftest import perturbed_copy
from rdagent_autorl.checkpoints import UnsafeTree, open_dir_nofollow, snapshot_tree
from rdagent_autorl.grading.run import REFUSALS, SCORES, GradingRun, SubmissionError
from rdagent_autorl.grading.service import create_app


@pytest.fixture()
def run(tiny_model, math_task_dir, tmp_path):
    run = GradingRun.open(tmp_path / "ws", task=str(math_task_dir), base_model=str(tiny_model), timeout_s=3600)
    shutil.copytree(tiny_model, run.output_dir / "v1")
    return run


@pytest.fixture()
def client(run):
    return TestClient(create_app(run))


def _refusals(run):
    return [json.loads(x) for x in (run.workspace / REFUSALS).read_text().splitlines()]


def test_a_symlinked_weight_file_is_refused_and_recorded(run, client, tiny_model):
    weights = run.output_dir / "v1" / "model.safetensors"
    weights.unlink()
    weights.symlink_to(tiny_model / "model.safetensors")  # a checkpoint elsewhere, passed off as our own
    r = client.post("/submit", json={"model_path": "output/v1"})
    assert r.status_code == 403 and "model.safetensors is a symlink" in r.json()["detail"]
    assert not (run.workspace / SCORES).exists()
    assert [x["status"] for x in _refusals(run)] == [403]
    assert list(run.snapshot_root.iterdir()) == []  # the refused snapshot is gone


def test_a_symlinked_output_folder_is_a_403_not_a_500(run, client, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run.output_dir, elsewhere)
    run.output_dir.symlink_to(elsewhere)  # the agent replaces its own output/ with a link
    r = client.post("/submit", json={"model_path": str(run.output_dir / "v1")})
    assert r.status_code == 403, r.text
    assert "output is a symlink" in r.json()["detail"]


def test_a_folder_swapped_after_the_check_is_graded_from_the_snapshot(run, tiny_model, tmp_path):
    """The race from the issue: the folder passes the check, then output/v1 is re-pointed at another
    checkpoint. on_receive runs between the check and the evaluation, the window the race used."""
    other = perturbed_copy(tiny_model, tmp_path / "other")

    def swap(sub_id):
        shutil.move(run.output_dir / "v1", run.output_dir / "v1-was")
        (run.output_dir / "v1").symlink_to(other)
        return None

    run.on_receive = swap
    record = run.submit("output/v1")
    baseline = run.baseline()
    # What was graded is the original folder (a byte copy of the base model), not the swapped-in weights.
    assert record.copied_base_model and record.model_hash == baseline.model_hash and record.score == baseline.score
    assert record.content_hash and record.model_path == "output/v1"
    assert list(run.snapshot_root.iterdir()) == []  # snapshots are removed once the submission is recorded


@pytest.mark.parametrize("path, status", [
    ("output/" + "a" * 10_000, 422),  # a 10,000-character component: over the body's cap
    ("output/" + "/".join(["b" * 200] * 40), 422),  # a deep, 8,000-character path
    ("output/" + "c" * 300, 400),  # one component past NAME_MAX
    ("x" * 1_000_000, 422),  # a 1 MB path in the body
])
def test_oversized_paths_are_4xx_with_a_reason(run, client, path, status):
    r = client.post("/submit", json={"model_path": path})
    assert r.status_code == status, r.text[:300]
    assert r.json()["detail"] and len(r.content) < 2000  # a reason, and the input is not echoed back
    assert not (run.workspace / SCORES).exists()


def test_oversized_paths_given_to_the_run_directly_are_refused(run):
    for path, status in [("output/" + "a" * 10_000, 400), ("output/" + "/".join(["b" * 250] * 15), 404)]:
        with pytest.raises(SubmissionError) as err:
            run.submit(path)
        assert err.value.status == status, err.value.reason
    assert all(len(x["model_path"]) <= 500 for x in _refusals(run))  # refusal lines stay short


def test_the_answer_names_no_held_out_file_and_quotes_no_shared_log(run, client, tiny_model):
    r = client.post("/submit", json={"model_path": "output/v1"})
    assert r.status_code == 200, r.text
    assert "samples_path" not in r.json() and "samples" not in r.text
    assert all("samples_path" not in s for s in client.get("/submissions").json())
    assert "samples_path" not in (run.workspace / SCORES).read_text()

    broken = run.output_dir / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with (run.records_dir / "grader.log").open("a") as log:  # another evaluation's lines in the shared log
        log.write("OTHER-EVALUATION prompt: What is 7 plus 8? reference: 15\n")
    r = client.post("/submit", json={"model_path": "output/broken"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "could not be evaluated" in detail and "OTHER-EVALUATION" not in detail
    assert str(run.snapshot_root) not in detail  # nor the grader's private folder


def test_snapshot_tree_copies_regular_files_and_refuses_links_and_fifos(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")
    fd = open_dir_nofollow(tmp_path, ["src"])
    try:
        digest = snapshot_tree(fd, tmp_path / "copy1")
    finally:
        os.close(fd)
    assert (tmp_path / "copy1" / "sub" / "b.txt").read_text() == "b"
    fd = open_dir_nofollow(tmp_path, ["src"])
    try:
        assert snapshot_tree(fd, tmp_path / "copy2") == digest  # by content and name, not path or time
    finally:
        os.close(fd)

    for name, make, kind in [("link", lambda p: p.symlink_to(src / "a.txt"), "symlink"),
                             ("fifo", lambda p: os.mkfifo(p), "special")]:
        make(src / "sub" / name)
        fd = open_dir_nofollow(tmp_path, ["src"])
        try:
            with pytest.raises(UnsafeTree) as err:
                snapshot_tree(fd, tmp_path / f"copy-{name}")
        finally:
            os.close(fd)
        assert err.value.kind == kind and f"sub/{name}" in err.value.reason
        (src / "sub" / name).unlink()
    with pytest.raises(UnsafeTree) as err:
        open_dir_nofollow(tmp_path, ["src", "a.txt"])
    assert err.value.kind == "not_dir"
