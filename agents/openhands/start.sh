#!/usr/bin/env bash
set -euo pipefail
cd "$WORKSPACE"
exec openhands --headless --override-with-envs -t "$(cat instructions.md description.md)"
