"""Final-answer scoring for grade-school math (GSM8K and its synthetic stand-in).

Extraction follows the conventions models are trained or prompted with, most explicit first:
the last `#### N` marker, then the last `\\boxed{...}`, then the last "The answer is N", then the
last number anywhere. Whatever is found is normalized to a plain number string:

* thousands separators go ("1,234" -> "1234"; also LaTeX's "1{,}234"), as do currency symbols
  ($, €, £), and units or words after the number ("12 apples" -> "12");
* a percent sign is dropped ("30%" -> "30"): GSM8K gold answers to percentage questions are bare
  numbers ("#### 30"), so keeping "30%" (= 0.3 to math-verify) would mark right answers wrong;
* trailing sentence punctuation goes ("42." -> "42"); signs stay ("-3");
* decimals lose trailing zeros ("2.50" -> "2.5", "7.0" -> "7") so equal values print the same;
* fractions stay fractions: "3/4", and LaTeX `\\frac{3}{4}` / `\\dfrac` / `\\tfrac` become "3/4".

Comparison uses math-verify, whose timeouts rely on `signal.alarm` and so fail outside the main
thread; the grader scores from worker threads, so timeouts are disabled and instead inputs are kept
short (`_MAX_VERIFY_CHARS`), which bounds the work. If math-verify cannot parse either side, exact
rational comparison (`fractions.Fraction`) decides; nothing here raises on odd model output.
"""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any, Sequence

from rdagent_autorl.types import Sample, ScoredSample

# Longer strings skip math-verify: without its signal-based timeout, sympy parsing of a huge or
# adversarial string could hang a grader thread. Real answers are a few characters long.
_MAX_VERIFY_CHARS = 64

# A number as written in prose: optional sign (not a hyphen inside a word or a range like "3-4"),
# optional currency, thousands-grouped or plain digits, optional decimals, optional "/denominator".
_NUMBER = re.compile(
    r"(?<![\w.)])(?P<sign>[-−+]?)\s?[$€£]?\s?"
    r"(?P<int>\d{1,3}(?:,\d{3})+(?![\d])|\d+)(?P<dec>\.\d+)?"
    r"(?:\s*/\s*(?P<den>\d+))?"
)
_HASH_MARK = re.compile(r"####\s*([^\n]*)")
# Only the marker is matched (not the rest of the line), so two statements on one line both count.
_ANSWER_IS = re.compile(r"answer\s*(?:is|:|=)", re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
# LaTeX decorations that carry no value but would split or hide the number.
_LATEX_NOISE = re.compile(r"\\text\{[^{}]*\}|\\mathrm\{[^{}]*\}|\\left|\\right|\\[,!;: ]|\\\$|\\%|[{}]")


def _normalize_number(m: re.Match[str]) -> str:
    sign = "-" if m.group("sign") in ("-", "−") else ""
    integer = m.group("int").replace(",", "")
    dec = (m.group("dec") or "").rstrip("0").rstrip(".")  # "2.50" -> "2.5", "7.00" -> "7"
    if m.group("den"):
        return f"{sign}{int(integer)}{dec}/{int(m.group('den'))}"
    text = f"{int(integer)}{dec}"
    return "0" if text == "0" else sign + text  # "-0" is just 0


def _first_number(text: str) -> str | None:
    m = _NUMBER.search(text)
    return _normalize_number(m) if m else None


def _last_number(text: str) -> str | None:
    matches = list(_NUMBER.finditer(text))
    return _normalize_number(matches[-1]) if matches else None


def _last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...}, matching braces so `\\boxed{\\frac{1}{2}}` works."""
    starts = list(_BOXED.finditer(text))
    for start in reversed(starts):  # an unclosed last box falls back to the one before it
        depth, i = 1, start.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return text[start.end() : i - 1]
    return None


def _clean_latex(content: str) -> str:
    # Innermost \frac first, repeatedly, so nested fractions collapse from the inside out.
    prev = None
    while prev != content:
        prev, content = content, _FRAC.sub(r"\1/\2", content)
    content = content.replace("{,}", ",")  # LaTeX thousands separator "1{,}234"
    return _LATEX_NOISE.sub(" ", content).strip()


def extract_answer(text: str) -> str | None:
    """The model's final answer as a normalized number string, or None if the text has none."""
    if not text:
        return None
    # 1. GSM8K's own marker; a marker with no number after it is ignored, not trusted.
    for m in reversed(list(_HASH_MARK.finditer(text))):
        found = _first_number(m.group(1))
        if found is not None:
            return found
    # 2. \boxed{...}: a non-numeric box (e.g. "\boxed{x}") is still the model's stated answer.
    boxed = _last_boxed(text)
    if boxed is not None:
        cleaned = _clean_latex(boxed)
        found = _first_number(cleaned)
        if found is not None:
            return found
        if cleaned:
            return cleaned
    # 3. "The answer is N" / "Final answer: N" — the last such statement wins.
    for m in reversed(list(_ANSWER_IS.finditer(text))):
        found = _first_number(_clean_latex(text[m.end() :].split("\n", 1)[0]))
        if found is not None:
            return found
    # 4. Last resort: the last number anywhere (models often end with the result).
    return _last_number(_clean_latex(text))


def gold_answer(answer_field: str) -> str:
    """The reference number of a GSM8K answer ("...#### 72" -> "72"), normalized like predictions."""
    if "####" in answer_field:
        tail = answer_field.rsplit("####", 1)[-1]
        found = _first_number(tail)
        return found if found is not None else tail.strip()
    # Not GSM8K-shaped (e.g. a bare "72"): read it the way a completion would be read.
    found = extract_answer(answer_field)
    return found if found is not None else answer_field.strip()


def _to_fraction(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", "").replace(" ", ""))
    except (ValueError, ZeroDivisionError):
        return None


class _DropTimeoutWarning(logging.Filter):
    # math-verify warns once that its timeout is off; that is deliberate here (see module docstring).
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


@lru_cache(maxsize=1)
def _math_verify() -> tuple[Any, Any, list[Any]]:
    """Import math-verify lazily: it pulls in sympy (~0.5 s), which the CLI should not pay for."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(_DropTimeoutWarning())
    return parse, verify, [LatexExtractionConfig(), ExprExtractionConfig()]


def _mv_parse(text: str) -> list[Any]:
    parse, _, config = _math_verify()
    # Wrapping in $...$ makes a bare "3/4" or "\frac{3}{4}" parse as one LaTeX expression;
    # parsing_timeout=None avoids signal.alarm, which only works in the main thread.
    return parse(f"${text.replace('$', '')}$", extraction_config=config, parsing_timeout=None)


def answers_match(predicted: str | None, gold: str) -> bool:
    """Whether a predicted answer equals the gold one ("2.50"~"2.5", "3/4"~"0.75", "-3"≁"3")."""
    if predicted is None or not predicted.strip() or not gold.strip():
        return False
    predicted, gold = predicted.strip(), gold.strip()
    if len(predicted) <= _MAX_VERIFY_CHARS and len(gold) <= _MAX_VERIFY_CHARS:
        try:
            parsed_gold, parsed_pred = _mv_parse(gold), _mv_parse(predicted)
            if parsed_gold and parsed_pred:
                _, verify, _ = _math_verify()
                return bool(verify(parsed_gold, parsed_pred, timeout_seconds=None))
        except Exception:  # noqa: BLE001 - any math-verify failure falls back to exact comparison
            pass
    p, g = _to_fraction(predicted), _to_fraction(gold)
    if p is not None and g is not None:
        return p == g
    return predicted == gold


def score_math(samples: Sequence[Sample], completions: Sequence[str]) -> list[ScoredSample]:
    """Grade each completion against its sample's GSM8K-style reference answer."""
    if len(samples) != len(completions):
        raise ValueError(f"{len(samples)} samples but {len(completions)} completions")
    scored = []
    for sample, completion in zip(samples, completions):
        extracted = extract_answer(completion)
        gold = gold_answer(sample.answer)
        scored.append(
            ScoredSample.graded(
                answers_match(extracted, gold),
                id=sample.id,
                prompt=sample.prompt,
                completion=completion,
                extracted=extracted,
                detail=f"gold={gold}",
            )
        )
    return scored
