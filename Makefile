# Two commands do everything on a fresh Debian machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install only when the declared dependencies change.
STAMP_RUN  := $(VENV)/.stamp-run
STAMP_TEST := $(VENV)/.stamp-test

.PHONY: demo test lint system clean bench

demo: system $(STAMP_RUN)
	$(BIN)/carte demo

test: system $(STAMP_TEST)
	$(BIN)/python -m pytest

# ruff, then the import rules of docs/architecture.md (.importlinter).
lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

# Every benchmark at its default size (1M points where the issue asks for it): ~40 min.
BENCHES := tiles_build tiles_serve basemap_build tiles_filtered opendata_bench moderation_queue ingest_api ingest_import webmap_first_tiles
bench: export CARTE_WITH_BENCH_TOOLS = 1
bench: system $(STAMP_TEST)
	for b in $(BENCHES); do $(BIN)/python bench/$$b.py || exit 1; done

system:
	@bash scripts/system-deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@ $(STAMP_RUN)

clean:
	-$(BIN)/carte db down
	rm -rf $(VENV) var
