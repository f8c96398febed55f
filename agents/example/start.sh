#!/usr/bin/env bash
# The `example` agent: no LLM. Runs the templates as they are and submits what they save:
# the GRPO rule template for static tasks; for alfworld-online an SFT warm-up on the expert
# trajectories, then online GRPO in the environment starting from the SFT checkpoint.
# AUTORL_EXAMPLE_CONFIG (JSON: {template name: CONFIG overrides}) shortens runs, e.g. for CPU smoke tests.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(train ...) stops the script too
cd "$WORKSPACE"
cp "$AUTORL_TEMPLATES/common.py" "$AUTORL_TEMPLATES/rewards.py" code/

# train TEMPLATE VERSION: copy the template to code/, train, submit; prints the checkpoint's path.
train() {
  local template=$1 version=$2
  cp "$AUTORL_TEMPLATES/$template.py" "code/$template.py"
  AUTORL_CONFIG_JSON=$("$AUTORL_PYTHON" -c 'import json, os, sys
overrides = json.loads(os.environ.get("AUTORL_EXAMPLE_CONFIG") or "{}").get(sys.argv[1], {})
print(json.dumps({**overrides, "version": sys.argv[2]}))' "$template" "$version") \
    "$AUTORL_PYTHON" "code/$template.py" 2>&1 | tee "$version.log" >&2  # the log stays out of code/ (recorded revisions)
  local checkpoint
  checkpoint=$(sed -n 's/^SAVED //p' "$version.log" | tail -n 1)
  [ -n "$checkpoint" ] || { echo "training saved no checkpoint ($version.log)" >&2; exit 1; }
  "$AUTORL_PYTHON" - "$checkpoint" >&2 <<'PY'
import os, sys, httpx
answer = httpx.post(os.environ["GRADING_SERVER_URL"] + "/submit", json={"model_path": sys.argv[1]}, timeout=None)
print(answer.status_code, answer.text)
sys.exit(0 if answer.status_code == 200 else 1)
PY
  echo "$checkpoint"
}

case "$TASK" in
  alfworld-online)
    sft=$(train sft_trajectories sft)
    BASE_MODEL=$sft train grpo_online grpo > /dev/null
    ;;
  *)
    train grpo_rule v1 > /dev/null
    ;;
esac
