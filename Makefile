# 连心 — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?=
CONFIG_ARG := $(if $(CONFIG),--config $(CONFIG),)

.PHONY: run test install install-dev lint format bench bench-scale migrations clean pg-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs are stamped so a second `make run` starts at once.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, create/upgrade the SQLite schema, seed the demo, serve on 127.0.0.1:8080
run: install
	$(BIN)/lianxin $(CONFIG_ARG) db upgrade
	$(BIN)/lianxin $(CONFIG_ARG) demo --if-empty
	$(BIN)/lianxin $(CONFIG_ARG) serve

## make test: install the dev extra and run every test (PostgreSQL ones when LIANXIN_TEST_PG_URL is set)
test: install-dev
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: throughput and latency against reference handlers, all on 127.0.0.1
bench: install-dev
	$(BIN)/python -m bench.run

## make bench-scale: every command on a generated district (S=1.0), SQLite and PostgreSQL
## (PostgreSQL when LIANXIN_TEST_PG_URL is set); under ~10 minutes, all on 127.0.0.1
bench-scale: install-dev
	$(BIN)/python -m bench.scale

## make migrations NAME=what_changed: write a migration after changing models/
migrations: install-dev
	$(BIN)/python -m bot.migrations_cli $(NAME)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
