#!/usr/bin/env bash
set -euo pipefail
cd "$WORKSPACE"
exec gemini --yolo -p "$(cat instructions.md description.md)"
