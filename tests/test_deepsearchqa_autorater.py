"""The DeepSearchQA autorater: the official prompt (byte-identical to evalscope's copy), the verdict's parsing,
precision / recall / F1 and the four outcome classes on hand-worked set answers, and the FAKE judge's replies
going through the same parsing path as a real judge's."""

from __future__ import annotations

import hashlib
import json

import pytest

from rdagent_autorl.tasks.deepsearchqa_online import autorater, rollout
from rdagent_autorl.tasks.deepsearchqa_online.autorater import (
    FakeAutoraterJudge, build_grader_prompt, metrics_from_counts, outcome, parse_verdict,
)
from rdagent_autorl.tasks.spec import Transcript
from rdagent_autorl.types import Sample

# sha256 of evalscope 1.14.1's own build_grader_prompt("Q?", "A, B", "Set Answer", "A; C"), computed from the
# wheel (pip download evalscope==1.14.1 --no-deps; evalscope/benchmarks/deepsearchqa/utils.py).
EVALSCOPE_PROMPT_SHA256 = "c943d587accf0a66f0e725d8701f3aab5537a50f3fc622840ddb26c72932a2ee"


def test_the_grading_prompt_is_evalscopes_byte_for_byte():
    prompt = build_grader_prompt("Q?", "A, B", "Set Answer", "A; C")
    assert hashlib.sha256(prompt.encode()).hexdigest() == EVALSCOPE_PROMPT_SHA256


def judged(reference: str, answer_type: str, response: str):
    """The FAKE judge's reply to the official prompt, parsed as a real judge's would be."""
    reply = FakeAutoraterJudge().generate([build_grader_prompt("Which ones?", reference, answer_type, response)], 512)[0]
    verdict = parse_verdict(reply)
    assert verdict is not None, reply
    return verdict, metrics_from_counts(*verdict.counts), outcome(*verdict.counts)


# Hand-worked: (reference, type, response) -> (correct, expected, excessive), precision, recall, F1, outcome
FIXTURES = [
    # case, punctuation and a duplicate ("Delta" twice is one excessive answer): P = R = 2/3
    ("Alpha; Beta; Gamma", "Set Answer", "alpha; BETA!; Delta; delta", (2, 3, 1), 2 / 3, 2 / 3, 2 / 3,
     "partially_correct"),
    # missing items: P = 1, R = 1/4, F1 = 2 * 0.25 / 1.25 = 0.4
    ("A1; B2; C3; D4", "Set Answer", "a1", (1, 4, 0), 1.0, 0.25, 0.4, "partially_correct"),
    # an extra item: P = 2/3, R = 1, F1 = 0.8
    ("Paris; Rome", "Set Answer", "Paris; Rome; Madrid", (2, 2, 1), 2 / 3, 1.0, 0.8, "correct_with_extraneous"),
    # DeepSearchQA's comma-separated references, a reordered answer with a leading article and a full stop
    ("France, Belgium", "Set Answer", "belgium; the France.", (2, 2, 0), 1.0, 1.0, 1.0, "fully_correct"),
    ("The Beatles", "Single Answer", "Beatles", (1, 1, 0), 1.0, 1.0, 1.0, "fully_correct"),
    ("Pacific Ocean", "Single Answer", "It is the Pacific Ocean", (1, 1, 0), 1.0, 1.0, 1.0, "fully_correct"),
    ("Pacific Ocean", "Single Answer", "Atlantic Ocean", (0, 1, 1), 0.0, 0.0, 0.0, "fully_incorrect"),
]


@pytest.mark.parametrize("reference,kind,response,counts,precision,recall,f1,klass", FIXTURES)
def test_precision_recall_f1_and_outcome_on_hand_worked_answers(reference, kind, response, counts, precision,
                                                                  recall, f1, klass):
    verdict, metrics, got = judged(reference, kind, response)
    assert verdict.counts == counts
    assert metrics == pytest.approx({"precision": precision, "recall": recall, "f1": f1})
    assert got == klass


def test_the_metric_is_evalscopes_counts():
    # metrics_from_grade: precision = correct / (correct + excessive), recall = correct / expected
    assert metrics_from_counts(0, 3, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert metrics_from_counts(3, 3, 3)["precision"] == 0.5
    assert outcome(0, 2, 0) == "fully_incorrect" and outcome(2, 2, 0) == "fully_correct"


def test_verdicts_parse_as_judges_write_them():
    # The prompt's own example: fenced, escaped braces, a trailing comma.
    example = autorater.GRADER_RATING_OUTPUT_EXAMPLE.split('"```json')[1].split('```"')[0]
    verdict = parse_verdict(example)
    assert verdict.details == {"Belgium": True, "France": True} and verdict.excessive == ["Italy"]
    assert parse_verdict('{"Answer Correctness": {"Correctness Details": {"x": "false"}, "Excessive Answers": []}}'
                         ).counts == (0, 1, 0)
    for bad in ("NULL", "I think it is right", '{"Answer Correctness": {"Explanation": "no details"}}', "{not json}"):
        assert parse_verdict(bad) is None


class CountingJudge:
    """FAKE judge client that records the prompts it gets and replies with a fixed text."""

    def __init__(self, reply):
        self.reply, self.prompts = reply, []

    def identity(self):
        return "FAKE-fixed"

    def generate(self, prompts, max_new_tokens, stop=()):
        self.prompts += list(prompts)
        return [self.reply] * len(prompts)


def test_the_scorer_counts_empty_answers_and_unparsable_verdicts_as_zero():
    samples = [Sample(id=str(i), prompt=f"Q{i}", answer="A; B", meta={"answer_type": "Set Answer"}) for i in range(3)]
    transcripts = [Transcript(sample_id="0", completion="search[x]", outcome={"answer": "", "steps": 10}),
                   Transcript(sample_id="1", completion="answer[A]", outcome={"answer": "A", "steps": 1}),
                   Transcript(sample_id="2", completion="answer[A; B]", outcome={"answer": "A; B", "steps": 1})]
    judge = CountingJudge("no verdict here")
    scored = rollout.score_answers(samples, transcripts, lambda: judge)
    assert len(judge.prompts) == 2  # the empty answer never reaches the judge
    assert [s.value for s in scored] == [0.0, 0.0, 0.0]
    assert [s.metrics["empty_answer"] for s in scored] == [1.0, 0.0, 0.0]
    assert [s.metrics["judge_parse_failure"] for s in scored] == [0.0, 1.0, 1.0]
    good = CountingJudge(json.dumps({"Answer Correctness": {"Explanation": "", "Correctness Details": {"A": True, "B": False},
                                                            "Excessive Answers": []}}))
    scored = rollout.score_answers(samples[1:2], transcripts[1:2], lambda: good)
    assert scored[0].value == pytest.approx(2 / 3) and scored[0].metrics["partially_correct"] == 1.0
    assert "Prompt Type: Set Answer" in good.prompts[0][0]["content"]
