"""How the grader plays and scores deepsearchqa-online: every held-out question once, greedily, all in
flight decoded together, with the run's search backend; the final answer is graded by the DeepSearchQA
autorater (autorater.py) through the judge backend; an episode's value is its F1.

Per sample: precision, recall, F1 (the value), the four outcome classes as 0/1 metrics (their means are
the rates: fully correct is the paper's strict accuracy), steps, the share of invalid calls, and the two failure counts evalscope
reports (an empty answer; a judge reply without a verdict). Unlike evalscope, both count as F1 0 rather
than being left out of the means: a policy that never answers scores 0, not "no data".
Grade-wide: mean F1 x 100 with its interval (the grader), per problem category (group_by), and per
answer type (`by_answer_type`).

A protocol file (with env.py, search.py, autorater.py): digested into every cached grade's key.
"""

from __future__ import annotations

from rdagent_autorl.envs import protocol
from rdagent_autorl.settings import get_settings
from rdagent_autorl.tasks.deepsearchqa_online import autorater, backends
from rdagent_autorl.tasks.deepsearchqa_online.env import ACTION_MAX_TOKENS, ACTION_STOP, DeepSearchEnv, invalid_action
from rdagent_autorl.tasks.spec import Transcript
from rdagent_autorl.types import ScoredSample

PROMPT_TOKENS_PER_QUESTION = 8192  # prefix-cache room per question in flight: a whole 10-call episode


def play_questions(task, samples, backend) -> list[Transcript]:
    """The solver. The environment gets the question only (never the reference answer)."""
    search_backend = backends.checked_backend(backends.grader_cache_file())
    specs = [{"id": s.id, "question": s.prompt} for s in samples]
    episodes = protocol.play_with_backend(lambda: DeepSearchEnv(search_backend), specs, backend,
                                          max_new_tokens=ACTION_MAX_TOKENS, stop=ACTION_STOP,
                                          tokens_per_episode=PROMPT_TOKENS_PER_QUESTION)
    return [Transcript(sample_id=s.id, completion="\n".join(e.actions),
                       outcome={"answer": e.answer, "answered": e.done and bool(e.actions) and
                                e.actions[-1].lower().startswith("answer["), "steps": e.steps,
                                "invalid_calls": sum(invalid_action(t) for t in e.turns[:-1]),
                                "search_backend": search_backend.name})
            for s, e in zip(samples, episodes)]


def score_answers(samples, transcripts, judge) -> list[ScoredSample]:
    """The autorater's verdict on each final answer (one judge call per answered question)."""
    asked = [i for i, t in enumerate(transcripts) if t.outcome.get("answer", "").strip()]
    prompts = [[{"role": "user", "content": autorater.build_grader_prompt(
        samples[i].prompt, samples[i].answer, samples[i].meta.get("answer_type", "Single Answer"),
        transcripts[i].outcome["answer"])}] for i in asked]
    client = judge() if prompts else None
    replies = dict(zip(asked, client.generate(prompts, get_settings().judge_max_tokens) if prompts else []))
    judged_by = client.identity() if client is not None and hasattr(client, "identity") else ""
    scored = []
    for i, (sample, t) in enumerate(zip(samples, transcripts)):
        verdict = autorater.parse_verdict(replies[i]) if i in replies else None
        empty, failed = i not in replies, i in replies and verdict is None
        counts = verdict.counts if verdict else (0, 1, 0)
        metrics = autorater.metrics_from_counts(*counts)
        kind = autorater.outcome(*counts)
        per_sample = {"precision": metrics["precision"], "recall": metrics["recall"],
                      **{name: float(kind == name) for name in autorater.OUTCOMES},
                      "steps": float(t.outcome.get("steps", 0)), "empty_answer": float(empty),
                      # the share of the episode's calls that were not tool calls: format learning, before any F1
                      "invalid_call_share": t.outcome.get("invalid_calls", 0) / max(1, t.outcome.get("steps", 0)),
                      "judge_parse_failure": float(failed)}
        why = "no answer" if empty else "judge reply without a verdict" if failed else \
            f"{counts[0]}/{counts[1]} expected found, {counts[2]} excessive"
        scored.append(ScoredSample(
            value=metrics["f1"], id=sample.id, prompt=sample.prompt, completion=t.completion,
            extracted=t.outcome.get("answer", ""), metrics=per_sample,
            detail=f"{kind}: {why}; search={t.outcome.get('search_backend', '')}; judge={judged_by}"))
    return scored


def by_answer_type(samples, scored) -> dict[str, float]:
    """Mean F1 x 100, fully-correct rate x 100 and the count per answer type (Single Answer, Set Answer)."""
    groups: dict[str, list[ScoredSample]] = {}
    for sample, s in zip(samples, scored):
        groups.setdefault(sample.meta.get("answer_type", "Single Answer"), []).append(s)
    out = {}
    for kind, items in sorted(groups.items()):
        key = kind.lower().replace(" ", "_")
        out[f"f1_{key}"] = 100 * sum(s.value for s in items) / len(items)
        out[f"fully_correct_{key}"] = 100 * sum(s.metrics["fully_correct"] for s in items) / len(items)
        out[f"n_{key}"] = float(len(items))
    return out
