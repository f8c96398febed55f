#!/usr/bin/env bash
set -euo pipefail
cd "$WORKSPACE"
exec openhands --headless -t "$(cat instructions.md description.md)"
