#!/usr/bin/env bash
# Claude Code, non-interactive: the task prompt is the workspace instructions plus the task description.
set -euo pipefail
cd "$WORKSPACE"
exec claude -p "$(cat instructions.md description.md)" --dangerously-skip-permissions --output-format stream-json --verbose
