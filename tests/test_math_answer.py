"""Final-answer extraction, matching and scoring for GSM8K-style math."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rdagent_autorl.scoring.math_answer import answers_match, extract_answer, gold_answer, score_math
from rdagent_autorl.types import Sample


@pytest.mark.parametrize(
    "text, expected",
    [
        # GSM8K marker wins over everything, and the last one counts.
        ("3 + 4 = 7\n#### 7", "7"),
        ("#### 5\nOops, redo.\n#### 6", "6"),
        ("The answer is 9.\n#### 12", "12"),
        ("\\boxed{3}\n#### 4", "4"),
        ("####\nThe answer is 5", "5"),  # an empty marker is not trusted
        # \boxed, with nested braces and LaTeX fractions.
        ("So we get \\boxed{42}.", "42"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\frac{3}{4}}", "3/4"),
        ("\\boxed{-\\dfrac{3}{4}}", "-3/4"),
        ("\\boxed{18 \\text{ dollars}}", "18"),
        ("\\boxed{\\$1{,}234.50}", "1234.5"),
        ("\\boxed{30\\%}", "30"),
        ("\\boxed{x}", "x"),
        ("\\boxed{7} and an unclosed \\boxed{8", "7"),
        # "The answer is" phrasing, case-insensitive, last occurrence.
        ("The answer is 7. Wait, the answer is 8 apples.", "8"),
        ("the final answer is: -3", "-3"),
        ("FINAL ANSWER: 15", "15"),
        ("The answer is $1,234.50.", "1234.5"),
        # Last-number fallback.
        ("He has 12 apples and 5 pears, 17 fruits in all.", "17"),
        ("5-3=2", "2"),
        ("x^2 and 7.000", "7"),
        # Normalization of the number itself.
        ("#### 1,234", "1234"),
        ("#### 1,234,567 grains", "1234567"),
        ("#### $18", "18"),
        ("#### €5", "5"),
        ("#### £7.25", "7.25"),
        ("#### 12 apples", "12"),
        ("#### 5 dollars", "5"),
        ("#### 30%", "30"),
        ("I get 42.", "42"),
        ("It is 42!", "42"),
        ("#### -3", "-3"),
        ("#### −3", "-3"),  # unicode minus
        ("#### +3", "3"),
        ("#### -0", "0"),
        ("#### 2.50", "2.5"),
        ("#### 7.00", "7"),
        ("#### 3/4", "3/4"),
        ("#### 3 / 4 of a pie", "3/4"),
        ("3-4 apples", "4"),  # a range's hyphen is not a minus sign
        # Nothing to find.
        ("No numbers here.", None),
        ("", None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_gold_answer():
    assert gold_answer("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72") == "72"
    assert gold_answer("#### 1,000") == "1000"
    assert gold_answer("steps 3 and 4\n####   -5 ") == "-5"
    assert gold_answer("72") == "72"  # not GSM8K-shaped: read like a completion
    assert gold_answer("#### seven") == "seven"


@pytest.mark.parametrize(
    "predicted, gold",
    [("2.50", "2.5"), ("3/4", "0.75"), ("1234", "1,234"), ("72", "72"), ("72.0", "72"), ("-3/4", "-0.75"),
     ("\\frac{3}{4}", "3/4"), ("0", "0")],
)
def test_answers_match_true(predicted, gold):
    assert answers_match(predicted, gold)


@pytest.mark.parametrize(
    "predicted, gold",
    [("-3", "3"), ("7", "8"), ("1000000", "1000001"), ("3/4", "4/3"), (None, "3"), ("", "3"), ("3", ""),
     ("abc", "3"), ("3", "abc")],
)
def test_answers_match_false(predicted, gold):
    assert not answers_match(predicted, gold)


def test_answers_match_never_raises_on_odd_input():
    odd = ["x" * 500, "1/0", "\\frac{", "$$", "{{}}", "1e999999", "nan", "inf", "∞", "1,2,3"]
    for a in odd:
        for b in ("3", a):
            assert isinstance(answers_match(a, b), bool)
    assert answers_match("x" * 500, "x" * 500)  # long strings skip math-verify, compare exactly


def _samples() -> list[Sample]:
    return [
        Sample(id="a", prompt="What is 3 + 4?", answer="3 + 4 = <<3+4=7>>7\n#### 7"),
        Sample(id="b", prompt="What is 1000 + 234?", answer="#### 1,234"),
        Sample(id="c", prompt="Half of 5?", answer="#### 2.5"),
        Sample(id="d", prompt="What is 2 - 5?", answer="#### -3"),
    ]


_COMPLETIONS = ["3 + 4 = 7\n#### 7", "The answer is $1,234.", "\\boxed{\\frac{5}{2}}", "It is 3."]


def test_score_math_end_to_end():
    scored = score_math(_samples(), _COMPLETIONS)
    assert [s.id for s in scored] == ["a", "b", "c", "d"]
    assert [s.correct for s in scored] == [True, True, True, False]
    assert [s.extracted for s in scored] == ["7", "1234", "5/2", "3"]
    assert [s.detail for s in scored] == ["gold=7", "gold=1234", "gold=2.5", "gold=-3"]
    assert scored[0].prompt == "What is 3 + 4?" and scored[2].completion == _COMPLETIONS[2]


def test_score_math_no_answer_and_length_mismatch():
    [scored] = score_math(_samples()[:1], ["I don't know."])
    assert scored.extracted is None and not scored.correct
    with pytest.raises(ValueError):
        score_math(_samples(), _COMPLETIONS[:2])


def test_score_math_from_worker_threads():
    # math-verify's default timeouts use signal.alarm, which raises outside the main thread.
    def run(_):
        assert threading.current_thread() is not threading.main_thread()
        return [s.correct for s in score_math(_samples(), _COMPLETIONS)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(8)))
    assert results == [[True, True, True, False]] * 8
