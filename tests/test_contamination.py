"""The n-gram contamination check: hand-worked fixtures of what counts as overlap, and recorded runs whose
code or workspace holds held-out items (planted) or only the training data (honest)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rdagent_autorl.bench.contamination import HeldoutIndex, words
from rdagent_autorl.types import Sample

QUESTION = ("Aisha has 14 stickers. Aisha packs the stickers equally into 2 boxes and keeps one box. "
            "How many stickers does Aisha have now?")


def test_normalisation_ignores_case_punctuation_and_unicode_forms():
    assert words("ＡＢＣ, it's  Déjà-vu_2!") == ["abc", "it", "s", "déjà", "vu", "2"]


def test_a_13_gram_of_an_item_is_found_in_other_spacing_and_case():
    index = HeldoutIndex.build([Sample(id="e1", prompt=QUESTION, answer="7")], n=13)
    copied = "row = {'q': '" + QUESTION.upper().replace(" ", "\n  ") + "'}"
    assert set(index.matches(copied)) == {"e1"}
    assert index.matches(copied)["e1"].split()[0] == "aisha"
    # twelve words of it in a row are not enough; reworded, nothing matches
    assert index.matches(" ".join(QUESTION.split()[:12])) == {}
    assert index.matches(QUESTION.replace("packs", "puts").replace("keeps", "holds").replace("box.", "crate.")) == {}


def test_n_grams_shared_with_the_training_split_are_not_evidence():
    train = [Sample(id="t1", prompt=QUESTION.replace("14", "16"), answer="8")]
    heldout = [Sample(id="e1", prompt=QUESTION, answer="7")]
    index = HeldoutIndex.build(heldout, train, n=13)
    assert index.matches(train[0].prompt) == {}  # the training row itself: every 13-gram is public or not the item's
    assert set(index.matches(QUESTION)) == {"e1"}  # the held-out item still is


def test_short_items_match_whole_above_the_minimum_and_are_counted_when_too_short():
    heldout = [Sample(id="s1", prompt="Name the largest moon of Saturn in our solar system"),  # 10 words
               Sample(id="s2", prompt="Which planet?", answer="Earth")]
    index = HeldoutIndex.build(heldout, n=13, min_words=8)
    assert set(index.matches("notes: name the LARGEST moon of saturn in our solar system.")) == {"s1"}
    assert index.matches("which planet earth") == {}
    assert (index.items, index.unindexed) == (2, 1)


def test_an_item_wholly_in_the_training_split_is_unindexed():
    same = Sample(id="x", prompt=QUESTION, answer="7")
    index = HeldoutIndex.build([same], [same.model_copy(update={"id": "t"})], n=13)
    assert index.grams == {} and index.unindexed == 1


# -- recorded runs ---------------------------------------------------------------------------------------

def _run(tmp_path: Path, code: dict[str, str], workspace: dict[str, str]) -> Path:
    run = tmp_path / "run"
    (run / "snapshots" / "objects").mkdir(parents=True)
    files = {}
    for rel, text in code.items():
        sha = hashlib.sha256(text.encode()).hexdigest()
        (run / "snapshots" / "objects" / sha).write_text(text)
        files[rel] = sha
    revisions = [{"id": "rev-0001", "time": 1.0, "reason": "start", "files": {}},
                 {"id": "rev-0002", "time": 2.0, "reason": "poll", "files": files, "added": sorted(files)}]
    (run / "snapshots" / "revisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in revisions))
    for rel, text in workspace.items():
        (run / "workspace" / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / "workspace" / rel).write_text(text)
    (run / "record.json").write_text(json.dumps({"run_id": "run-c", "task": "gsm8k-rule", "agent": "test",
                                                 "base_model": "tiny", "data_source": "smoke", "timeout_s": 60,
                                                 "start": 0.0, "deadline": 60.0, "end": 30.0}))
    return run


def test_a_planted_run_is_flagged_with_its_hits_and_an_honest_one_is_not(tmp_path):
    from rdagent_autorl.bench.report import write_report
    from rdagent_autorl.tasks import get_task

    task = get_task("gsm8k-rule")
    heldout, train = task.heldout("smoke"), task.train("smoke")
    train_rows = "".join(json.dumps({"question": s.prompt, "answer": s.answer}) + "\n" for s in train)
    honest = _run(tmp_path / "honest", {"train.py": "from trl import SFTTrainer\n"},
                  {"data/train.jsonl": train_rows, "output/v1/trainer_state.json": '{"loss": 1.0}'})
    metrics = write_report(honest)
    assert metrics["contamination"]["contaminated"] is False and metrics["contamination"]["files_checked"] == 3
    assert "no overlap" in (honest / "reports" / "report.md").read_text()

    leak = "ROWS = " + json.dumps([{"q": s.prompt, "a": s.answer} for s in heldout[:3]])
    planted = _run(tmp_path / "planted", {"train.py": "from trl import SFTTrainer\n", "more_data.py": leak},
                   {"data/train.jsonl": train_rows, "data/extra.jsonl": json.dumps({"text": heldout[5].prompt})})
    metrics = write_report(planted)
    verdict = json.loads((planted / "reports" / "contamination.json").read_text())
    assert metrics["contamination"]["contaminated"] is True and verdict["items_hit"] == 4
    by_item = {h["item"]: h for h in verdict["hits"]}
    assert set(by_item) == {s.id for s in (*heldout[:3], heldout[5])}
    assert (by_item[heldout[0].id]["source"], by_item[heldout[0].id]["revision"]) == ("code/more_data.py", "rev-0002")
    assert (by_item[heldout[5].id]["source"], by_item[heldout[5].id]["revision"]) == ("workspace/data/extra.jsonl", None)
    assert " ".join(by_item[heldout[0].id]["overlap"].split()[:3]) == " ".join(words(heldout[0].prompt)[:3])
    report = (planted / "reports" / "report.md").read_text()
    assert "CONTAMINATED — 4 held-out item(s) found" in report and heldout[5].id in report


def test_a_run_whose_task_data_is_gone_still_gets_a_report_that_says_so(tmp_path):
    from rdagent_autorl.bench.report import write_report

    run = _run(tmp_path, {"train.py": "x = 1\n"}, {})
    record = json.loads((run / "record.json").read_text()) | {"data_source": "no-such-source"}
    (run / "record.json").write_text(json.dumps(record))
    metrics = write_report(run)
    assert metrics["contamination"]["contaminated"] is None and "no-such-source" in metrics["contamination"]["error"]
    assert "Not run" in (run / "reports" / "report.md").read_text()
