#!/usr/bin/env bash
# The hostile test agent (tests/test_sandbox_agent.py): everything it finds goes to $WORKSPACE/loot/, each
# attempt to loot/attempts.jsonl. It submits nothing.
set -u
cd "$WORKSPACE"
exec "$AUTORL_PYTHON" "$(dirname "$0")/hostile.py"
