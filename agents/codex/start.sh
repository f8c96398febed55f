#!/usr/bin/env bash
set -euo pipefail
cd "$WORKSPACE"
# danger-full-access: the agent must reach the grader on 127.0.0.1 and the GPUs. Nothing but the
# harness (its process group, its deadline) bounds it: benchmark on a machine you can lend to an agent.
exec codex exec --sandbox danger-full-access --skip-git-repo-check "$(cat instructions.md description.md)"
