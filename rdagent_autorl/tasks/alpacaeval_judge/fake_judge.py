"""The FAKE judge: alpacaeval-judge's deterministic offline stand-in for an LLM judge.

It receives exactly what a real judge gets (the annotator's rendered prompt) and answers as a logprob
judge does (the first token's top_logprobs over "m" and "M"), so grading, the parser and the training
rewards run the real path end to end; only the judgement is a cheap heuristic. It is a FAKE: its
identity says so, every grade, report and ledger row shows it, and its scores say nothing about what a
real judge (or a human) would prefer. Deterministic, free, no network.

The heuristic scores each output on its own, from the instruction's point of view:
- relevance: the share of the instruction's content words (3+ letters, not stop words) the output uses;
- fluency: distinct words / words, so the loops a weak model falls into cost it;
- substance: outputs of fewer than MIN_WORDS words are scaled down (an empty answer is worth nothing).
P(M better) = sigmoid(SHARPNESS * (q(M) - q(m))). A model that writes like the references (on topic,
not repeating itself) moves towards a tie with them; copying the instruction back also scores, which
is why it is a stand-in for smoke runs and tests and never a benchmark judge.
"""

from __future__ import annotations

import math
import re

from rdagent_autorl.generation.judge_client import JudgeError, JudgeReply, JudgeRequest

IDENTITY = "FAKE-alpacaeval-judge:lexical-v1"
SHARPNESS = 6.0
MIN_WORDS = 8
STOP_WORDS = frozenset(
    "the and for are but not you all any can her was one our out has have had his how its may new now see two who "
    "did get him let put say she too use what when where which while with from into that this than then them they "
    "their there these those will would could should about after before your give write some more most very".split())
# The fields of alpaca_eval's pairwise templates: an instruction and two outputs, each in triple quotes.
FIELD = re.compile(r'"(instruction|output)":\s*"""(.*?)"""', re.S)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def quality(instruction: str, output: str) -> float:
    words = _words(output)
    if not words:
        return 0.0
    topic = {w for w in _words(instruction) if len(w) >= 3 and w not in STOP_WORDS}
    relevance = len(topic & set(words)) / len(topic) if topic else 1.0
    fluency = len(set(words)) / len(words)
    substance = min(1.0, len(words) / MIN_WORDS)
    return (0.7 * relevance + 0.3) * fluency * substance


class FakePreferenceJudge:
    """A FAKE logprob-preference judge for alpaca_eval's pairwise templates (model ids m and M)."""

    fake = True

    def identity(self) -> str:
        return IDENTITY

    def complete(self, request: JudgeRequest) -> JudgeReply:
        text = request.prompt if isinstance(request.prompt, str) else "\n".join(m["content"] for m in request.prompt)
        fields = FIELD.findall(text)
        instruction = next((v for k, v in fields if k == "instruction"), None)
        outputs = [v for k, v in fields if k == "output"]
        if instruction is None or len(outputs) != 2:
            raise JudgeError(f"{IDENTITY} reads only alpaca_eval's pairwise JSON-style templates (an instruction and "
                             "two outputs in triple quotes); use a real judge for this annotator")
        q1, q2 = quality(instruction, outputs[0]), quality(instruction, outputs[1])
        p2 = 1 / (1 + math.exp(-SHARPNESS * (q2 - q1)))  # P(the second output, "M", is better)
        top = sorted([{"token": "M", "logprob": math.log(max(p2, 1e-12))},
                      {"token": "m", "logprob": math.log(max(1 - p2, 1e-12))}], key=lambda t: -t["logprob"])
        if not request.top_logprobs:  # a text-reading annotator: the likelier identifier
            return JudgeReply(text=top[0]["token"])
        return JudgeReply(text=top[0]["token"], top_logprobs=top)
