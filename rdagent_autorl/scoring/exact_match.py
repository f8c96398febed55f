"""Exact-match scoring for custom tasks whose answers are short strings (labels, names, words)."""

from __future__ import annotations

import re
from typing import Sequence

from rdagent_autorl.types import Sample, ScoredSample

_ANSWER_MARK = re.compile(r"(?:final answer|answer)\s*[:：]\s*(.+)", re.IGNORECASE)


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".").casefold()


def extract_final_line(completion: str) -> str | None:
    """The text after the last 'Answer:' marker, else the last non-empty line."""
    marks = _ANSWER_MARK.findall(completion)
    if marks:
        return marks[-1].strip()
    lines = [line.strip() for line in completion.splitlines() if line.strip()]
    return lines[-1] if lines else None


def score_exact(samples: Sequence[Sample], completions: Sequence[str]) -> list[ScoredSample]:
    out = []
    for sample, completion in zip(samples, completions):
        extracted = extract_final_line(completion)
        correct = extracted is not None and normalize(extracted) == normalize(sample.answer)
        out.append(ScoredSample.graded(correct, id=sample.id, prompt=sample.prompt, completion=completion, extracted=extracted))
    return out
