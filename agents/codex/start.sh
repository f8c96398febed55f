#!/usr/bin/env bash
set -euo pipefail
cd "$WORKSPACE"
# danger-full-access: the agent must reach the grader on 127.0.0.1 and the GPUs; the workspace is its sandbox.
exec codex exec --sandbox danger-full-access --skip-git-repo-check "$(cat instructions.md description.md)"
