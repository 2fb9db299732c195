# `make demo` and `make test` set up a local .venv on first use and reuse it after.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_DEMO := $(VENV)/.installed-demo

.PHONY: demo test bench check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test,demo]'
	touch $@

$(STAMP_DEMO): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[demo]'
	touch $@

# Two workers (the machines have 2 cores; most of a test's time is single-threaded XLA compilation);
# --dist loadfile keeps each file's module fixtures (the quick demo run) in one worker.
# Two runs: most tests compile many small programs and run each once, so XLA's backend optimisation is off for
# them; the few files that spend their time training (marked `trains`, see tests/conftest.py) keep it on.
# tests/xla_flags.py prints each run's XLA_FLAGS (the measurements behind them are in its docstring).
test: $(STAMP_TEST)
	XLA_FLAGS="$$($(PY) tests/xla_flags.py compile)" $(PY) -m pytest -n 2 --dist loadfile -m "not trains"
	XLA_FLAGS="$$($(PY) tests/xla_flags.py train)" $(PY) -m pytest -n 2 --dist loadfile -m trains tests

demo: $(STAMP_DEMO)
	$(VENV)/bin/symjax demo

bench: $(STAMP_DEMO)
	$(VENV)/bin/symjax bench

check: $(STAMP_DEMO)
	$(VENV)/bin/symjax check

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
