# MediaHub: `make run` sets everything up and serves the app with its workers; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test processes (pytest-xdist; each gets its own test database): one per core by default.
PYTEST_WORKERS ?= auto

.PHONY: run test setup ffmpeg migrate lint bench clean

run: setup migrate
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py serve

test: setup
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

setup: $(STAMP) ffmpeg

# Reinstall only when the dependencies change (or the virtualenv's Python went away).
$(STAMP): pyproject.toml
	@test -x $(PY) && $(PY) -c "import sys" 2>/dev/null || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

ffmpeg:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || ./scripts/install-ffmpeg

migrate: setup
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py createcachetable

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) bench/transcode_overhead.py
	$(PY) bench/hls_ladder.py
	$(PY) bench/composition_render.py
	$(PY) bench/highlights.py

clean:
	rm -rf $(VENV) var
