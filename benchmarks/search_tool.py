"""deepsearchqa-online's tools: local BM25 search latency over the 10,033-article offline collection, and
batched versus sequential rollouts of the same questions, in the same run.

    python benchmarks/search_tool.py [--model PATH|tiny] [--queries 500] [--questions 16] [--data smoke]

1. Search: `--queries` searches (half the articles' short descriptions, as the expert searches; half the
   held-out questions' full text, as an untrained policy would) through the task's LocalSearch, one at a
   time; printed: median, p90 and max milliseconds (target: median <= 10 ms), and the index load time.
2. Rollouts: the grader's play (rdagent_autorl/envs/protocol.py with the hf backend, greedy, the grader's
   max tokens and stop) on `--questions` held-out questions, all in flight at once vs one at a time;
   printed: seconds of each, their ratio (target >= 3x), and whether the episodes' actions are identical.
   The default policy is the tiny model (random weights: it never calls a tool, so every episode runs all
   10 turns of up to 128 tokens, the most expensive case); pass a trained checkpoint with --model.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def search_latency(n: int, questions: list[str]) -> None:
    from rdagent_autorl.tasks.deepsearchqa_online import corpus
    from rdagent_autorl.tasks.deepsearchqa_online.search import LocalSearch

    folder = corpus.collection_folder()
    t0 = time.perf_counter()
    local = LocalSearch(folder)
    load_s = time.perf_counter() - t0
    rng = random.Random(0)
    queries = [d.description or d.title for d in rng.sample(local.docs, n // 2)]
    queries += [rng.choice(questions) for _ in range(n - len(queries))]
    local.search("warm up", 5)
    times = []
    for q in queries:
        t = time.perf_counter()
        local.search(q, 5)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"SEARCH docs={len(local.docs)} queries={n} index_load_s={load_s:.2f} median_ms={statistics.median(times):.2f} "
          f"p90_ms={times[int(0.9 * len(times))]:.2f} max_ms={times[-1]:.2f} target_median_ms<=10 "
          f"{'OK' if statistics.median(times) <= 10 else 'MISSED'}", flush=True)


def rollouts(model: str, samples) -> None:
    from rdagent_autorl.envs import protocol
    from rdagent_autorl.generation import load_backend
    from rdagent_autorl.models.resolve import resolve_model
    from rdagent_autorl.tasks.deepsearchqa_online import backends
    from rdagent_autorl.tasks.deepsearchqa_online.env import ACTION_MAX_TOKENS, ACTION_STOP, DeepSearchEnv
    from rdagent_autorl.tasks.deepsearchqa_online.rollout import PROMPT_TOKENS_PER_QUESTION

    backend = load_backend("hf", resolve_model(model))
    search_backend = backends.configured_backend()
    specs = [{"id": s.id, "question": s.prompt} for s in samples]

    def policy(prompts):
        return backend.generate(prompts, ACTION_MAX_TOKENS, ACTION_STOP)

    results = {}
    for name, batch in (("batched", len(specs)), ("sequential", 1)):
        t = time.perf_counter()
        with backend.prefix_cache_session(batch * PROMPT_TOKENS_PER_QUESTION):
            episodes = protocol.play(lambda: DeepSearchEnv(search_backend), specs, policy, batch_size=batch)
        results[name] = (time.perf_counter() - t, [e.actions for e in episodes])
        steps = sum(e.steps for e in episodes)
        print(f"ROLLOUT {name} questions={len(specs)} steps={steps} seconds={results[name][0]:.1f}", flush=True)
    ratio = results["sequential"][0] / results["batched"][0]
    print(f"ROLLOUT speedup={ratio:.2f}x target>=3x {'OK' if ratio >= 3 else 'MISSED'} "
          f"identical_actions={results['batched'][1] == results['sequential'][1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--data", default="smoke")
    args = parser.parse_args()
    from rdagent_autorl.tasks import get_task

    task = get_task("deepsearchqa-online")
    samples = task.heldout(args.data)
    search_latency(args.queries, [s.prompt for s in samples])
    rollouts(args.model, samples[: args.questions])


if __name__ == "__main__":
    main()
