"""Rule rewards for GRPO, in TRL's signature: `f(prompts, completions, **kwargs) -> list[float]`.

TRL passes every extra dataset column as a keyword list aligned with `completions` (one entry per
completion, so each prompt's row is repeated `num_generations` times): `answer` for math, `test` and
`entry_point` for HumanEval. Completions are strings for plain-text prompts and lists of messages
(`[{"role": "assistant", "content": ...}]`) for chat prompts; both are handled.

The scoring itself is the grader's own code (imported from rdagent_autorl.scoring), so what the
policy is rewarded for is exactly what the final evaluation counts.
"""

from rdagent_autorl.scoring.exact_match import extract_final_line, normalize
from rdagent_autorl.scoring.math_answer import answers_match, extract_answer, gold_answer


def _text(x) -> str:
    """A completion or prompt as plain text: a string as is, a message list by its last message."""
    if isinstance(x, str):
        return x
    return x[-1]["content"] if x else ""


def gsm8k_correctness_reward(prompts, completions, answer, **kwargs) -> list[float]:
    """1.0 when the final answer equals the reference's `#### N` value (as the grader decides)."""
    return [1.0 if answers_match(extract_answer(_text(c)), gold_answer(a)) else 0.0
            for c, a in zip(completions, answer)]


def gsm8k_format_reward(prompts, completions, **kwargs) -> list[float]:
    """1.0 when the completion ends with a readable '#### N' line. Scale it down with a weight:
    it only teaches the answer format the grader reads first, never correctness."""
    rewards = []
    for c in completions:
        lines = [line.strip() for line in _text(c).strip().splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        rewards.append(1.0 if last.startswith("####") and extract_answer(last) is not None else 0.0)
    return rewards


def exact_match_reward(prompts, completions, answer, **kwargs) -> list[float]:
    """1.0 when the final line (or the text after 'Answer:') equals the reference, for custom
    tasks scored by exact match."""
    return [1.0 if (got := extract_final_line(_text(c))) is not None and normalize(got) == normalize(a) else 0.0
            for c, a in zip(completions, answer)]


def humaneval_pass_reward(prompts, completions, test, entry_point, **kwargs) -> list[float]:
    """1.0 when the completed function passes the problem's unit tests, run in the grader's sandbox
    (same time and memory limits, from AUTORL_CODE_* settings), else 0.0."""
    from rdagent_autorl.scoring.code_exec import CodeCheck, extract_code, run_many
    from rdagent_autorl.settings import get_settings

    checks = []
    for p, c, t, e in zip(prompts, completions, test, entry_point):
        stub = _text(p)  # completion-style HumanEval: the prompt is the function stub itself
        checks.append(CodeCheck(stub, extract_code(_text(c), stub, e), t, e))
    s = get_settings()
    results = run_many(checks, timeout_s=s.code_timeout_s, memory_mb=s.code_memory_mb, workers=s.code_workers,
                       sandbox=s.code_sandbox)
    return [1.0 if r.passed else 0.0 for r in results]


# Rewards by NAME (a task declares its reward's name: `reward` in its spec, $TASK_REWARD in its workspace);
# grpo_rule.py weights them (the format bonus counts less). No fallback: an unknown name is an error.
REWARDS = {
    "math": [gsm8k_correctness_reward, gsm8k_format_reward],  # the '#### N' answer, as the math scorer reads it
    "exact": [exact_match_reward],  # the final line equals the reference (the exact scorer)
    "humaneval": [humaneval_pass_reward],  # the completed function passes the problem's tests
}


def rewards_for(name: str | None) -> list:
    """The reward functions named `name`; a missing or unknown name stops the script, listing the names."""
    if name in REWARDS:
        return REWARDS[name]
    said = f"unknown reward {name!r}" if name else "no reward named"
    raise SystemExit(f"rewards: {said}: set CONFIG['reward'] or $TASK_REWARD (the task's reward, which the "
                     f"workspace sets) to one of {sorted(REWARDS)}")
