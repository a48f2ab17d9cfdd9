# Two entry points: `make demo` and `make test`. Both bootstrap everything on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KIOSK  := $(VENV)/bin/kiosk
STAMP  := $(VENV)/.installed
MODELS := models/store/installed.json
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo test lint bench models clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(MODELS): $(STAMP) models/packs/*.toml
	$(KIOSK) models install

models: $(MODELS)

demo: $(MODELS)
	$(KIOSK) demo

test: $(MODELS)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(MODELS)
	$(KIOSK) bench recognition

clean:
	rm -rf $(VENV) models/store
