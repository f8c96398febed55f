"""The DeepSearchQA autorater: the official grading prompt, the verdict's parsing, the set metric (precision,
recall, F1) and the four outcome classes; and `FakeAutoraterJudge`, the deterministic offline stand-in.

The prompt and the metric are those of DeepSearchQA's starter code as evalscope 1.14.1 ships them
(`evalscope/benchmarks/deepsearchqa/utils.py`: DEEPSEARCH_QA_PROMPT, GRADER_RATING_OUTPUT_EXAMPLE,
build_grader_prompt, metrics_from_grade, Apache-2.0). They are copied, not imported, because evalscope
cannot be imported with this project's pinned stack: importing the module needs colorlog and the
`evalscope.api` tree, and installing evalscope upgrades huggingface_hub and datasets (checked with
`pip install --dry-run evalscope==1.14.1`). The prompt text is byte-identical (tests/test_deepsearchqa_autorater.py
pins the rendered prompt's digest computed from evalscope's own function); the metric is rewritten in
a few lines with the same counts: precision = correct / (correct + excessive), recall = correct /
expected, F1 their harmonic mean (0 when both are 0).

Outcome classes (the paper's four disjoint categories): fully correct (every expected item, nothing
extra), correct with extraneous answers (every expected item, and extras), partially correct (some but
not all expected items), fully incorrect (no expected item).

A protocol file: digested into every cached grade's key; the environment copies it too
(`env/deepsearch_autorater.py`) to reward training episodes with the same metric. Standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["DEEPSEARCH_QA_PROMPT", "GRADER_RATING_OUTPUT_EXAMPLE", "OUTCOMES", "FakeAutoraterJudge", "Verdict",
           "build_grader_prompt", "fake_verdict", "metrics_from_counts", "outcome", "parse_verdict"]

# ---- Verbatim from evalscope 1.14.1 (DeepSearchQA's official autorater prompt) ------------------------------
DEEPSEARCH_QA_PROMPT = """
Your task is to evaluate whether a given "AI Response" for a specific "User Prompt" arrived at the correct answer.

**Answer Correctness Task**

*   **Purpose:** Assess whether the AI response provides the correct answer(s) based on the provided "Correct Answer" and "Prompt Type".
*   **Process:**
    *   Identify the "Prompt Type": "<prompt_type>".
    *   Refer to the "Correct Answer": "<answer>".
    *   Based on the "Prompt Type", determine if the "AI Response" contains the expected answer(s).
        *   **'Single Answer'**: Check if the response provides the answer that addresses the user's question. It does not have to match the exact wording of the provided answer.
        *   **'Set Answer'**: Check if the response includes *each* item from the provided ground truth answers. The order might not matter unless specified otherwise. The response might include more answers than the list. Determine the correctness *only* based on the list first and then check if the response includes answers not in the list.
    *   **Explanation:** Provide a brief explanation justifying your assessment of answer correctness, referencing specific parts of the AI response and the correct answer.
    *   **Correctness Details:** Provide a dictionary, one key for each expected answer part, and value is a boolean indicating whether each expected answer part was found.
        *   For 'Set Answer', this will be a list of attributes, one for each item/part in the "Correct Answer". Each key will be a string indicating the expected answer part, and the value will be a boolean indicating whether that part was found in the response.
    *   **Excessive Answers:** Provide a list of strings, each indicating an excessive answer part. If the response provides answers that are **not** in the "Correct Answer" list, add these answers as excessive answers. Return an empty list when there's no excessive answers in the response.


**Output Format:**

Your evaluation *must* be structured as a nested JSON dictionary with the following top-level keys: `"Answer Correctness"`. Please return NULL if any of "Prompt", "AI Response" or "Correct Answer" is empty.
The value for `"Answer Correctness"` should be a dictionary containing `"Explanation"` (a string), `"Correctness Details"` (a dictionary where each key is the expected correct answer, and the value is a boolean indicating whether the response contains the correct answer), and `"Excessive Answers"` (a list of strings indicating the excessive answers).

Make sure you return a valid JSON string. Pay special attention to quotes, commas and special characters in the JSON string. Make sure to escape all special characters and quotes in the JSON string.
""".strip()  # noqa: E501

GRADER_RATING_OUTPUT_EXAMPLE = r"""

**Example (Partial):**

"```json
{{
  "Answer Correctness": {{
    "Explanation": "The response correctly identified Belgium and France but also includes an excessive answer, Italy.",
    "Correctness Details": {{
      "Belgium": true,
      "France": true,
    }},
    "Excessive Answers": [ "Italy" ]
  }}
}}
```"

**Now, proceed with the evaluation using the provided User Prompt, AI Response, and Correct Answer.**

User Prompt (Wrapped in <prompt> and </prompt>):
<prompt>
{prompt}
</prompt>
--------------------
**  Correct Answer (Wrapped in <answer> and </answer>):
Prompt Type: {prompt_type}
<answer>
{answer}
</answer>
--------------------
AI assistant response (Wrapped in <response> and </response>):
<response>
{response}
</response>

--------------------
Rating:"""  # noqa: E501

# ---- end of the verbatim part ------------------------------------------------------------------------------


def build_grader_prompt(question: str, reference: str, answer_type: str, response: str) -> str:
    return DEEPSEARCH_QA_PROMPT + GRADER_RATING_OUTPUT_EXAMPLE.format(
        prompt=question, answer=reference, prompt_type=answer_type, response=response)


OUTCOMES = ("fully_correct", "correct_with_extraneous", "partially_correct", "fully_incorrect")


@dataclass
class Verdict:
    """The autorater's "Answer Correctness": per expected item found or not, and the excessive answers."""

    details: dict[str, bool] = field(default_factory=dict)
    excessive: list[str] = field(default_factory=list)
    explanation: str = ""

    @property
    def counts(self) -> tuple[int, int, int]:
        """(correct, expected, excessive), as evalscope's metrics_from_grade counts them."""
        return (sum(1 for v in self.details.values() if v), len(self.details),
                len([a for a in self.excessive if str(a).strip()]))


def metrics_from_counts(correct: int, expected: int, excessive: int) -> dict[str, float]:
    precision = correct / (correct + excessive) if correct + excessive else 0.0
    recall = correct / expected if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def outcome(correct: int, expected: int, excessive: int) -> str:
    if expected and correct == expected:
        return "fully_correct" if not excessive else "correct_with_extraneous"
    return "partially_correct" if correct else "fully_incorrect"


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "correct")
    return bool(value)


def parse_verdict(reply: str) -> Verdict | None:
    """The verdict in a judge's reply (a JSON object, maybe in a ```json fence, maybe with the trailing
    commas the prompt's own example has), or None when there is none (a judge parse failure)."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end <= start:
        return None
    text = re.sub(r",\s*([}\]])", r"\1", reply[start:end + 1])
    node = None
    # As written; else with the example's doubled braces undone (a judge that copied its escaping).
    for candidate in (text, text.replace("{{", "{").replace("}}", "}")):
        try:
            node = json.loads(candidate)
            break
        except ValueError:
            continue
    node = node.get("Answer Correctness", node) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get("Correctness Details"), dict):
        return None
    excessive = node.get("Excessive Answers") or []
    if not isinstance(excessive, list):
        excessive = [excessive]
    return Verdict({str(k): _as_bool(v) for k, v in node["Correctness Details"].items()},
                   [str(a) for a in excessive], str(node.get("Explanation", "")))


# ---- The FAKE judge: deterministic normalised set matching, answering in the autorater's format ------------

def normalize(text: str) -> str:
    """Lower case, punctuation to spaces, spaces collapsed (evalscope's _normalize_text), and a leading
    article dropped ("The Beatles" = "Beatles")."""
    text = " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
    return re.sub(r"^(the|a|an) ", "", text)


def split_items(text: str, answer_type: str) -> list[str]:
    """The items of an answer: a set splits on ';', newlines, and commas when it has no ';' (DeepSearchQA's
    set answers are comma-separated; this task's synthetic ones use '; ' since titles hold commas);
    a single answer splits only on ';' and newlines (its commas are usually part of it: "Paris, France")."""
    if answer_type == "Set Answer" and ";" not in text:
        parts = re.split(r",|\n", text)
    else:
        parts = re.split(r";|\n", text)
    return [p.strip() for p in parts if p.strip()]


def _matches(item: str, part: str) -> bool:
    a, b = normalize(item), normalize(part)
    return bool(a) and (a == b or f" {a} " in f" {b} ")


def fake_verdict(reference: str, answer_type: str, response: str) -> Verdict:
    """Each expected item is found when a response item equals it or contains it as whole words, after
    normalising case and punctuation; repeated response items count once; response items that match no
    expected item are excessive. A Single Answer has one expected item: the whole reference."""
    expected = [reference.strip()] if answer_type != "Set Answer" else split_items(reference, answer_type)
    parts: list[str] = []
    for p in split_items(response, answer_type):
        if normalize(p) and normalize(p) not in map(normalize, parts):
            parts.append(p)
    details = {item: any(_matches(item, p) for p in parts) for item in expected if item}
    excessive = [p for p in parts if not any(_matches(item, p) for item in expected)]
    return Verdict(details, excessive, "FAKE judge: normalised set match")


def _filled(text: str, tag: str) -> str:
    """The last <tag>...</tag> block of a grading prompt: the filled-in one (the instructions above it
    mention the tags too)."""
    found = re.findall(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return found[-1] if found else ""


class FakeAutoraterJudge:
    """FAKE judge (offline stand-in for the LLM autorater): reads the reference, the prompt type and the
    response out of the official grading prompt it is sent, decides with `fake_verdict`, and replies with
    the JSON the real autorater writes, so the scorer's parsing path is the same. Not an LLM: semantic
    equivalences ("NYC" = "New York City") are misses here."""

    def identity(self) -> str:
        return "FAKE-deepsearchqa-autorater:normalised-set-match:v1"

    def generate(self, prompts, max_new_tokens: int = 0, stop=()) -> list[str]:
        replies = []
        for prompt in prompts:
            text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
            kinds = re.findall(r"^Prompt Type: (.*)$", text, re.MULTILINE)
            verdict = fake_verdict(_filled(text, "answer"), kinds[-1].strip() if kinds else "Single Answer",
                                   _filled(text, "response"))
            replies.append("```json\n" + json.dumps({"Answer Correctness": {
                "Explanation": verdict.explanation, "Correctness Details": verdict.details,
                "Excessive Answers": verdict.excessive}}, indent=2) + "\n```")
        return replies

    def complete(self, request):
        """One request as the judge layer sends it (rdagent_autorl/generation/judge_client.py's JudgeClient)."""
        from rdagent_autorl.generation.judge_client import JudgeReply

        return JudgeReply(text=self.generate([request.prompt], request.max_tokens)[0])
