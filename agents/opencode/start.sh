#!/usr/bin/env bash
set -euo pipefail
cd "$WORKSPACE"
exec opencode run "$(cat instructions.md description.md)"
