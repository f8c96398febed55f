#!/usr/bin/env bash
set -euo pipefail
cd "$WORKSPACE"
exec codex exec --full-auto --skip-git-repo-check "$(cat instructions.md description.md)"
