"""The grading worker: one evaluation in a fresh process, its result as one JSON line on stdout.

    python -m rdagent_autorl.grading.worker --task T --model DIR --backend hf --data smoke [--limit N] [--part final]

The grading service starts one per submission (run.py): a model that crashes or leaks GPU memory
cannot take the service down, and CUDA_VISIBLE_DEVICES pins the evaluation to its GPU, which vLLM
needs before it initialises. Errors go to stderr (the grader's log) with exit code 1.

A worker dies with the service that started it (`die_with_parent`), and everything the worker started dies
with the worker (`guard_process_group`: vLLM's engine processes are its children): a service killed with
SIGKILL must not leave an evaluation holding a GPU that a restarted service believes free.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rdagent_autorl.process_control import deny_inspection, die_with_parent, guard_process_group
from rdagent_autorl.tasks.spec import PARTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rdagent_autorl.grading.worker")
    parser.add_argument("--task", required=True)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--data", default="auto")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--part", default="selection", choices=PARTS)
    args = parser.parse_args(argv)
    die_with_parent()
    guard_process_group()
    deny_inspection()  # it loads the held-out split: no other process of this user reads its memory

    from rdagent_autorl.grading.evaluate import evaluate, make_config
    from rdagent_autorl.tasks import get_task

    try:
        task = get_task(args.task)
        result = evaluate(task, args.model, make_config(task, args.backend, args.data, args.limit, args.part))
    except Exception as exc:  # the checkpoint does not load or generate, an endpoint is down, ...
        print(f"grading {args.model} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(result.model_dump_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
