"""The example agent's steps for a task, one JSON object a line (read by agents/example/start.sh):

    python -m rdagent_autorl.tasks.example_steps TASK [--smoke]

Each line: {"template", "version", "init_from", "config"}; `config` (the CONFIG overrides) is the
step's smoke config in smoke runs and empty otherwise (the template's defaults). TASK is a task id
or a custom task folder, as in the workspace's run_meta.json.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rdagent_autorl.tasks.example_steps")
    parser.add_argument("task")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)

    from rdagent_autorl.tasks import TaskError, get_task

    try:
        steps = get_task(args.task).require_smoke().example
    except TaskError as exc:
        print(f"example agent: {exc}", file=sys.stderr)
        return 2
    if not steps:
        print(f"example agent: task {args.task} declares no example steps", file=sys.stderr)
        return 2
    for step in steps:
        print(json.dumps({"template": step.template, "version": step.version, "init_from": step.init_from,
                          "config": step.smoke_config if args.smoke else {}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
