# Two commands: `make run` (set up and start on embedded defaults) and `make test` (all tests).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check train bench bench-voice eval lint setup clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml tools/bootstrap.sh
	bash tools/bootstrap.sh
	touch $(STAMP)

run: $(STAMP)
	bash tools/ensure-system-packages.sh
	$(PY) -m actions.cli run

test: $(STAMP)
	bash tools/ensure-system-packages.sh --tests
	$(PY) -m pytest

check: $(STAMP)
	$(PY) -m actions.cli check

train: $(STAMP)
	$(PY) -m actions.cli train

bench: $(STAMP)
	$(PY) tools/bench_chat.py --think-seconds 0 3

# Recognisers' WER and real-time factor, call response latency and concurrent calls.
bench-voice: $(STAMP)
	bash tools/ensure-system-packages.sh --tests
	$(PY) tools/bench_voice.py $(ARGS)

# NLU figures on the held-out set; ARGS=--compare scores every pipeline in eval/pipelines/.
eval: $(STAMP)
	$(PY) tools/eval_nlu.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check actions bot tests tools voice_gateway
	$(VENV)/bin/mypy actions bot tools voice_gateway

clean:
	rm -rf $(VENV) models var
