#!/usr/bin/env bash
# The `example` agent: no LLM. Copy the GRPO template into code/, train once, submit what it saved.
# AUTORL_EXAMPLE_CONFIG (JSON) overrides the template's CONFIG, e.g. a short run for CPU smoke tests.
set -euo pipefail
cd "$WORKSPACE"
cp "$AUTORL_TEMPLATES/grpo_rule.py" code/train.py
cp "$AUTORL_TEMPLATES/common.py" "$AUTORL_TEMPLATES/rewards.py" code/
export AUTORL_CONFIG_JSON="${AUTORL_EXAMPLE_CONFIG:-}"
"$AUTORL_PYTHON" code/train.py 2>&1 | tee train.log  # the log stays out of code/ (recorded revisions)
checkpoint=$(sed -n 's/^SAVED //p' train.log | tail -n 1)
[ -n "$checkpoint" ] || { echo "training saved no checkpoint" >&2; exit 1; }
"$AUTORL_PYTHON" - "$checkpoint" <<'PY'
import os, sys, httpx
answer = httpx.post(os.environ["GRADING_SERVER_URL"] + "/submit", json={"model_path": sys.argv[1]}, timeout=None)
print(answer.status_code, answer.text)
sys.exit(0 if answer.status_code == 200 else 1)
PY
