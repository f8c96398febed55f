"""What the grader asks a gsm8k-rule checkpoint: the system prompt and the chat around a question.

A protocol file: its content is digested into every cached grade's key (TaskSpec.protocol_files),
and the protocol-pin test fails when it changes without a bump of the task's version.
"""

from __future__ import annotations

from rdagent_autorl.types import Sample

SYSTEM_PROMPT = (
    "Solve the grade-school math problem. Reason step by step, "
    "then give the final answer on its own line as '#### <number>'."
)


def to_prompt(sample: Sample):
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": sample.prompt}]
