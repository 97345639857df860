# Two commands do all set-up on a fresh machine (Python 3.11 and PyPI are all they need):
#   make book   build the Jupyter Book from the embedded synthetic demo data
#   make test   lint (ruff, the import-linter layer contract), list what the GPU check would run (--dry-run), run
#               the unit tests (one process per core; with them the Table 5, 6 and 7 pages rebuilt with other
#               settings in copies of the tree) while the book builds (sections side by side) and is then checked,
#               in one pytest run: nbval on the book (each notebook whole in one process), its demo results read
#               back from the records, Table 5 rebuilt from its packed results (tests/built), and headless
#               Chromium (tests/browser)
# Both create .venv from requirements.txt on first use; later runs reuse it. The packages' bytecode is compiled after
# pip, on every core (pip compiles one file at a time); as with pip, a file that does not compile (some packages ship
# Python 2 examples) is left out, not an error. `make test` also installs Debian's
# chromium, chromium-driver and fonts-noto-cjk with apt-get where they are missing (the browser test skips,
# saying why, where that fails).

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Tests run in one process per core (pytest-xdist), each on one CPU thread, so that two processes do not fight over
# the cores; the unit tests of one module stay in one process (--dist loadscope), so that its fixtures (demo data, a
# trained grid) are made once, and the tests marked slow start first, the longest first (tests/scheduling.py; with
# --no-loadscope-reorder, as xdist otherwise hands out the modules with the most tests first, the slow ones last).
# `make test TEST_JOBS=0` runs them in this process (pytest -n 0). A developer's inner loop can leave out the tests
# marked slow (training, notebooks): .venv/bin/python -m pytest -n auto -m "not slow"; make test never does.
TEST_JOBS ?= auto
PARALLEL  := OMP_NUM_THREADS=1
# Each step of `make test` (and the install) says how long it took (bash's time), for the breakdown in the README.
SHELL := bash
export TIMEFORMAT := [make] the step above took %0R s (CPU %0U s user, %0S s system)

.PHONY: book test unit-tests book-checks venv browser-deps clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	time $(PY) -m pip install --quiet --no-compile -r requirements.txt
	time $(PY) -m compileall -qq -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))') || true
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	time $(PY) -m landslide_core book

test: $(STAMP) browser-deps
	time $(VENV)/bin/ruff check .
	time $(VENV)/bin/lint-imports
	time bash benchmarks/gpu_check.sh --dry-run --python $(PY)
	time $(MAKE) --no-print-directory -j 2 --output-sync=target unit-tests book-checks

# The unit tests read nothing the book build or its checks write, so `make test` runs them beside both (make -j 2):
# each leaves the cores idle at times (the tests waiting on processes they start, the book on its HTML build, the
# browser test on Chromium).
book-checks: book
	time $(PARALLEL) $(PY) -m pytest -n $(TEST_JOBS) --dist loadfile --durations=15 --nbval-lax --nbval-current-env \
	    -p no:cacheprovider book/sections tests/built tests/browser

unit-tests: $(STAMP)
	time $(PARALLEL) $(PY) -m pytest -n $(TEST_JOBS) --dist loadscope --no-loadscope-reorder --durations=25 \
	    --ignore=tests/browser --ignore=tests/built

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
