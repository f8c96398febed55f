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
    from rdagent_autorl.scoring.code_exec import CodeCheck, extract_code, run_many

    s = get_settings()
    codes = [extract_code(c, x.prompt, x.meta["entry_point"]) for x, c in zip(samples, completions)]
    checks = [CodeCheck(x.prompt, code, x.meta["test"], x.meta["entry_point"]) for x, code in zip(samples, codes)]
    results = run_many(checks, timeout_s=s.code_timeout_s, memory_mb=s.code_memory_mb, workers=s.code_workers,
                       sandbox=s.code_sandbox)
    return [ScoredSample.graded(r.passed, id=x.id, prompt=x.prompt, completion=c, extracted=code,
                                detail=f"{r.status} (sandbox {r.sandbox}): {r.detail[-300:]}")
            for x, c, code, r in zip(samples, completions, codes, results)]
