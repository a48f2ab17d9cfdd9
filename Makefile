# Two entry points: `make demo` and `make test`. Both bootstrap everything on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KIOSK  := $(VENV)/bin/kiosk
STAMP  := $(VENV)/.installed
MODELS := models/store/installed.json
# Debian packages for a real X server in the display tests (Xvfb; xwininfo from x11-utils)
# and Qt's xcb plugin; the spoken prompts' offline TTS (espeak-ng) and player (aplay);
# libfaketime (faketime), which moves a platform process's clock in the scheduler tests.
# PostgreSQL: the platform tests start throwaway clusters with its initdb/pg_ctl (tests/pg.py).
# openssl: the 国密 tests check SM2 key files and signatures against its command line.
DEBS   := xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 \
          libxcb-render-util0 libxcb-image0 libxcb-shape0 libxcb-xinerama0 libegl1 libgl1 x11-utils \
          espeak-ng alsa-utils postgresql faketime openssl

.PHONY: demo test lint bench bundle models system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(MODELS): $(STAMP) models/packs/*.toml
	$(KIOSK) models install

models: $(MODELS)

# Installs what is missing when run as root (CI, terminals); otherwise says what to install.
system-deps:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
			|| echo "warning: could not install $$missing; the display and voice tests need them"; \
	else echo "note: for the display and voice tests install: $$missing"; fi

demo: $(MODELS) system-deps
	QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-$$( [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] && echo xcb || echo offscreen )} \
		$(PY) -m ui demo

test: $(MODELS) system-deps
	$(VENV)/bin/ruff check .
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n 2 --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The offline installer for terminals: build/hospital-face-kiosk-*.tar (deploy/README.md).
bundle: $(MODELS)
	PY=$(PY) deploy/bundle.sh build

bench: $(MODELS)
	$(KIOSK) bench recognition

clean:
	rm -rf $(VENV) models/store var
