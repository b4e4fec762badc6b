# The two commands of the README, and a few more. Every target sets up first (idempotent, seconds when done).
PY := .venv/bin/python

.PHONY: setup demo test lint bench

setup:
	./scripts/setup.sh

## Set up everything and run the main job on the embedded defaults (bundled local model, penguin wood).
demo: setup
	.venv/bin/studio run

## Set up everything and run the tests.
test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q --durations=15

lint: setup
	.venv/bin/ruff check studio tests benchmarks
	.venv/bin/ruff format --check studio tests benchmarks
