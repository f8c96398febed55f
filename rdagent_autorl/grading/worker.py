"""The grading worker: one evaluation in a fresh process, its result as one JSON line on stdout.

    python -m rdagent_autorl.grading.worker --task T --model DIR --backend hf --data smoke [--limit N]

The grading service starts one per submission (run.py): a model that crashes or leaks GPU memory
cannot take the service down, and CUDA_VISIBLE_DEVICES pins the evaluation to its GPU, which vLLM
needs before it initialises. Errors go to stderr (the grader's log) with exit code 1.

A worker dies with the service that started it (`die_with_parent`): a service killed with SIGKILL must not
leave an evaluation holding a GPU that a restarted service believes free.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """Ask the kernel for SIGKILL when the parent goes (Linux's parent-death signal; nothing to register
    elsewhere, and no library wraps prctl), then exit at once if the parent is already gone: the signal only
    covers a death after the call. Elsewhere a no-op: the service's own shutdown still ends its workers."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        print(f"grading worker: prctl(PR_SET_PDEATHSIG) failed (errno {ctypes.get_errno()})", file=sys.stderr)
    if os.getppid() != parent or parent == 1:  # orphaned between fork and the call
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rdagent_autorl.grading.worker")
    parser.add_argument("--task", required=True)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--data", default="auto")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    die_with_parent()

    from rdagent_autorl.grading.evaluate import evaluate, make_config
    from rdagent_autorl.tasks import get_task

    try:
        task = get_task(args.task)
        result = evaluate(task, args.model, make_config(task, args.backend, args.data, args.limit))
    except Exception as exc:  # the checkpoint does not load or generate, an endpoint is down, ...
        print(f"grading {args.model} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(result.model_dump_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
