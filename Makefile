# Handoff: `make run` (local mode) and `make test` set up everything they need themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean browser scenarios

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m devtools.run_local

test: $(STAMP) browser
	$(PY) -m pytest -n 2 -q tests

# The browser tests (tests/browser) drive Debian's Chromium through its chromedriver: installed
# here when missing (sudo when not root; the package lists refreshed if the first try fails).
# If they cannot be installed, this fails, and so does `make test`: nothing is skipped.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y chromium chromium-driver \
	    || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium chromium-driver; }; \
	fi

# Transfer scenarios (devtools/scenarios/README.md): against `make run` when it serves the same
# recipients file, else on a local stack of their own. SCENARIOS=path... runs others.
SCENARIOS ?= examples/scenarios
scenarios: $(STAMP)
	$(PY) -m devtools.scenarios run $(SCENARIOS)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
