"""The grader's model identity checks (grading/model_identity.py): a submission that is byte for byte a
checkpoint the run did not produce (another built model, another run's output, the HF cache) is flagged
`copied_model` naming it; another network than the base model is flagged `model_substituted`; a
fine-tune of the base model is neither; the report and the ledger carry the flags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import perturbed_copy
from rdagent_autorl.grading.run import GradingRun


@pytest.fixture()
def run(tiny_model, math_task_dir, tmp_path):
    return GradingRun.open(tmp_path / "runs" / "this-run" / "workspace", task=str(math_task_dir),
                           base_model=str(tiny_model), timeout_s=3600)


def test_a_fine_tune_of_the_base_model_is_neither_copied_nor_substituted(run, tiny_model, tmp_path):
    from rdagent_autorl.models.tiny import tiny_model_path

    tiny_model_path(1)  # another model of the same architecture on disk: same file names and sizes
    perturbed_copy(tiny_model, tmp_path / "runs" / "other-run" / "workspace" / "output" / "v1")  # another fine-tune
    perturbed_copy(tiny_model, run.output_dir / "v0")  # the run's own earlier checkpoint: it may resubmit that
    record = run.submit(str(perturbed_copy(run.output_dir / "v0", run.output_dir / "v1", byte=-7)))
    assert record.status == "scored"
    assert (record.copied_model, record.model_substituted, record.copied_base_model) == (None, None, False)


def test_weights_copied_from_a_checkpoint_the_run_did_not_produce_are_flagged(run, tiny_model, tmp_path):
    import os

    from rdagent_autorl.models.tiny import tiny_model_path

    other_model = tiny_model_path(1)  # a built model in the autorl home
    shutil.copytree(other_model, run.output_dir / "v1")
    record = run.submit("output/v1")
    assert record.copied_model == str(other_model.resolve()) and record.model_substituted is None
    assert not record.copied_base_model

    other_run = perturbed_copy(tiny_model, tmp_path / "runs" / "other-run" / "workspace" / "output" / "v3")
    shutil.copytree(other_run, run.output_dir / "v2")
    assert run.submit("output/v2").copied_model == str(other_run.resolve())

    # the HF hub cache's layout: snapshot files are links to blobs
    snapshot = Path(os.environ["HF_HOME"]) / "hub" / "models--org--model" / "snapshots" / "abc123"
    blobs = snapshot.parents[1] / "blobs"
    source = perturbed_copy(tiny_model, tmp_path / "hub-model", byte=-11)
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for f in source.iterdir():
        shutil.copy(f, blobs / f.name)
        (snapshot / f.name).symlink_to(blobs / f.name)
    shutil.copytree(source, run.output_dir / "v3")
    assert run.submit("output/v3").copied_model == str(snapshot)


def _other_network(tiny_model: Path, dest: Path) -> Path:
    """The base model's tokenizer on a network with wider MLPs (random weights)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(tiny_model)
    config.intermediate_size *= 2
    AutoModelForCausalLM.from_config(config).save_pretrained(dest)
    for f in tiny_model.iterdir():
        if f.name not in ("config.json", "model.safetensors", "generation_config.json"):
            shutil.copy(f, dest / f.name)
    return dest


def test_another_network_is_flagged_substituted_and_the_run_is_flagged(run, tiny_model, tmp_path):
    from rdagent_autorl.bench.ledger import run_flags
    from rdagent_autorl.bench.report import write_report

    width = json.loads((tiny_model / "config.json").read_text())["intermediate_size"]
    _other_network(tiny_model, run.output_dir / "bigger")
    record = run.submit("output/bigger")
    assert record.model_substituted.startswith(f"intermediate_size: {width} -> {2 * width}")
    assert "block_parameters" in record.model_substituted and record.copied_model is None

    run_dir = run.workspace.parent
    (run_dir / "record.json").write_text(json.dumps({
        "run_id": "this-run", "task": str(run.meta.task), "agent": "test", "base_model": str(tiny_model),
        "timeout_s": 3600, "start": run.meta.start, "deadline": run.meta.start + 3600}))
    metrics = write_report(run_dir)
    assert metrics["model_substituted_submissions"] == 1 and metrics["copied_model_submissions"] == 0
    assert run_flags(metrics) == ["model_substituted"]
    assert "MODEL SUBSTITUTED" in (run_dir / "reports" / "report.md").read_text()
