#!/usr/bin/env bash
# The `example` agent: no LLM. Runs the steps the task declares (its `smoke.example`: e.g. the GRPO
# rule template once; for alfworld-online an SFT warm-up on the expert trajectories, then online GRPO
# from the SFT checkpoint), each template as it is, and submits every checkpoint. In smoke runs
# (AUTORL_SMOKE=1) each step's smoke config shortens it.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(train ...) stops the script too
cd "$WORKSPACE"
cp "$AUTORL_TEMPLATES/common.py" "$AUTORL_TEMPLATES/rewards.py" code/

# train TEMPLATE VERSION CONFIG_JSON START_MODEL: copy the template to code/, train, submit; prints the checkpoint.
train() {
  local template=$1 version=$2 config=$3 start=$4
  cp "$AUTORL_TEMPLATES/$template.py" "code/$template.py"
  AUTORL_CONFIG_JSON=$("$AUTORL_PYTHON" -c 'import json, sys; print(json.dumps({**json.loads(sys.argv[1]), "version": sys.argv[2]}))' \
    "$config" "$version") BASE_MODEL=$start \
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

task=$("$AUTORL_PYTHON" -c 'import json; print(json.load(open("run_meta.json"))["task"])')
steps=$("$AUTORL_PYTHON" -m rdagent_autorl.tasks.example_steps "$task" ${AUTORL_SMOKE:+--smoke})
# field NAME: the named field of the current step (strings as they are, the config as JSON).
field() { "$AUTORL_PYTHON" -c 'import json, sys; v = json.loads(sys.argv[1])[sys.argv[2]]; print(v if isinstance(v, str) else json.dumps(v))' "$step" "$1"; }
declare -A checkpoints=([base]=$BASE_MODEL)  # version -> its checkpoint, for a step's init_from
while IFS= read -r step; do
  version=$(field version)
  checkpoints[$version]=$(train "$(field template)" "$version" "$(field config)" "${checkpoints[$(field init_from)]}")
done <<< "$steps"
