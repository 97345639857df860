# Two commands do all set-up on a fresh machine (Python 3.11 and PyPI are all they need):
#   make book   build the Jupyter Book from the embedded synthetic demo data
#   make test   lint (ruff, the import-linter layer contract), list what the GPU check would run (--dry-run), run
#               the unit tests, build the book, check it with nbval, read its demo results back from the records and
#               rebuild Table 5 from its packed results, rebuild the Table 5, 6 and 7 pages with other settings
#               (tests/built), then check it in headless Chromium
# Both create .venv from requirements.txt on first use; later runs reuse it. `make test` also installs Debian's
# chromium, chromium-driver and fonts-noto-cjk with apt-get where they are missing (the browser test skips,
# saying why, where that fails).

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test venv browser-deps clean

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

test: $(STAMP) browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	bash benchmarks/gpu_check.sh --dry-run --python $(PY)
	$(PY) -m pytest --ignore=tests/browser --ignore=tests/built
	$(PY) -m landslide_core book
	$(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider book/sections
	$(PY) -m pytest tests/built tests/browser

# Headless Chromium, its driver and CJK fonts (sub-dataset names have full-width parentheses) for the browser
# test. sudo only when not root; a failed install is reported and the browser test then skips with its reason.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
	    && fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then exit 0; fi; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	echo "installing chromium chromium-driver fonts-noto-cjk with apt-get ..."; \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null \
	|| echo "warning: could not install chromium, chromium-driver and fonts-noto-cjk with apt-get (see the error" \
	    "above); the browser test will skip" >&2

clean:
	rm -rf _build book/sections data/demo
