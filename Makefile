# Two commands do all set-up on a fresh machine (Python 3.11 and PyPI are all they need):
#   make book   build the Jupyter Book from the embedded synthetic demo data
#   make test   run the test suite, then nbval on the executed notebooks
# Both create .venv from requirements.txt on first use; later runs reuse it.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(PY) -m landslide_core book

test: $(STAMP)
	$(PY) -m pytest
	$(PY) -m landslide_core book --execute-only
	$(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider book/sections

clean:
	rm -rf _build book/sections data/demo
