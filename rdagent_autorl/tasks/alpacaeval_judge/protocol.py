"""What the policy is asked: alpacaeval-judge's prompt (a protocol file: its digest keys every grade)."""

from __future__ import annotations

from rdagent_autorl.types import Sample


def to_prompt(sample: Sample) -> list[dict]:
    """The instruction as the user's one message, as AlpacaEval's model configs send it (the policy's chat
    template does the rest; no system prompt)."""
    return [{"role": "user", "content": sample.prompt}]
