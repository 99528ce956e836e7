# Two commands: `make run` (set up and start on embedded defaults) and `make test` (all tests).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check train bench eval lint setup clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml tools/bootstrap.sh
	bash tools/bootstrap.sh
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m actions.cli run

test: $(STAMP)
	bash tools/ensure-system-packages.sh
	$(PY) -m pytest

check: $(STAMP)
	$(PY) -m actions.cli check

train: $(STAMP)
	$(PY) -m actions.cli train

bench: $(STAMP)
	$(PY) tools/bench_chat.py --think-seconds 0 3

# NLU figures on the held-out set; ARGS=--compare scores every pipeline in eval/pipelines/.
eval: $(STAMP)
	$(PY) tools/eval_nlu.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check actions bot tests tools
	$(VENV)/bin/mypy actions bot tools

clean:
	rm -rf $(VENV) models var
