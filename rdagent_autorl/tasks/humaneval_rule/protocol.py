"""How humaneval-rule asks and scores: the Codex paper's stop sequences and pass@1 by running the tests.

A protocol file: its content is digested into every cached grade's key (TaskSpec.protocol_files),
and the protocol-pin test fails when it changes without a bump of the task's version.
"""

from __future__ import annotations

from rdagent_autorl.settings import get_settings
from rdagent_autorl.types import ScoredSample

# The Codex paper's stop sequences: anything after the function body is not part of the answer.
STOP = ("\nclass ", "\ndef ", "\n#", "\nif __name__", "\nprint(", "\n```")


def score_code(samples, completions) -> list[ScoredSample]:
    from rdagent_autorl.scoring.code_exec import extract_code, humaneval_program, run_many

    s = get_settings()
    codes = [extract_code(c, x.prompt, x.meta["entry_point"]) for x, c in zip(samples, completions)]
    programs = [humaneval_program(x.prompt, code, x.meta["test"], x.meta["entry_point"])
                for x, code in zip(samples, codes)]
    results = run_many(programs, timeout_s=s.code_timeout_s, memory_mb=s.code_memory_mb, workers=s.code_workers)
    return [ScoredSample.graded(r.passed, id=x.id, prompt=x.prompt, completion=c, extracted=code,
                                detail=f"{r.status}: {r.detail[-300:]}")
            for x, c, code, r in zip(samples, completions, codes, results)]
