#!/usr/bin/env bash
# The RD-Agent loop of this project, working in this workspace against the harness's grader.
set -euo pipefail
cd "$WORKSPACE"
exec "$AUTORL_PYTHON" -m rdagent_autorl.rdloop.agent
