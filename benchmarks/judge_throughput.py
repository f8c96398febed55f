"""Judge throughput: alpacaeval-judge's scorer against a FAKE judge endpoint that answers each request after
a fixed latency, with one call at a time versus the judge client's bounded concurrency; then the same
submission graded again, which the reply cache answers without a single judge call.

    python benchmarks/judge_throughput.py [--n 200] [--latency-ms 50] [--concurrency 16]

The FAKE endpoint is an OpenAI-compatible server on 127.0.0.1 (the tests' helper) that returns top_logprobs
like gpt-4-turbo, so the whole real path runs: alpaca_eval's template and order switch, the HTTP client,
alpaca_eval's logprob parser. The "submission" is the first sentence of each of the first --n AlpacaEval
references (packaged source), so no model generation is timed. All runs are in this one process,
after an untimed warm-up (imports, the first connection), each with a fresh cache (except the last one,
which reuses the concurrent run's).
Target: >= 8x for concurrency 16 at 50 ms latency, and 0 calls for the second grade.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # serve_in_thread: the tests' FAKE-server helper


def fake_judge_app(latency_s: float):
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(body: dict) -> dict:
        await asyncio.sleep(latency_s)  # the judge's latency; async, so the server itself is never the bottleneck
        first, second = (o.split('"""')[0] for o in body["messages"][-1]["content"].split('"output": """')[1:])
        token, other = ("M", "m") if len(second) > len(first) else ("m", "M")
        return {"choices": [{"message": {"role": "assistant", "content": token}, "logprobs": {"content": [
            {"token": token, "logprob": -0.1, "top_logprobs": [{"token": token, "logprob": -0.1},
                                                               {"token": other, "logprob": -2.4}]}]}}],
                "usage": {"prompt_tokens": 500, "completion_tokens": 1}}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from conftest import serve_in_thread
    from rdagent_autorl.generation.judge import EndpointJudge, JudgeClient
    from rdagent_autorl.tasks import get_task
    from rdagent_autorl.tasks.alpacaeval_judge import annotator
    from rdagent_autorl.tasks.spec import Transcript

    task = get_task("alpacaeval-judge")
    samples = task.heldout("packaged")[: args.n]
    transcripts = [Transcript(sample_id=s.id, completion=(s.answer or "").split(". ")[0]) for s in samples]
    with serve_in_thread(fake_judge_app(args.latency_ms / 1000)) as url, tempfile.TemporaryDirectory() as tmp:
        def grade(concurrency: int, cache: Path):
            client = JudgeClient(EndpointJudge("FAKE-judge", f"{url}/v1"), cache, concurrency=concurrency)
            t0 = time.perf_counter()
            scored = annotator.score_pairs(samples, transcripts, lambda: client)
            return time.perf_counter() - t0, client.usage, sum(s.value for s in scored)

        client = JudgeClient(EndpointJudge("FAKE-judge", f"{url}/v1"), None)  # warm-up: imports, first connection
        annotator.score_pairs(samples[:2], transcripts[:2], lambda: client)
        seq_s, seq_usage, seq_total = grade(1, Path(tmp) / "sequential")
        con_s, con_usage, con_total = grade(args.concurrency, Path(tmp) / "concurrent")
        again_s, again_usage, again_total = grade(args.concurrency, Path(tmp) / "concurrent")
    print(f"{args.n} pairs, FAKE judge latency {args.latency_ms:.0f} ms")
    print(f"sequential (1 call at a time): {seq_s:7.2f} s  {seq_usage.calls} calls")
    print(f"concurrent ({args.concurrency} in flight):    {con_s:7.2f} s  {con_usage.calls} calls   "
          f"speed-up {seq_s / con_s:.1f}x (target >= 8x)")
    print(f"same submission again:         {again_s:7.2f} s  {again_usage.calls} calls, "
          f"{again_usage.cache_hits} cache hits (target 0 calls)")
    print(f"same preferences in all three: {seq_total == con_total == again_total}")


if __name__ == "__main__":
    main()
