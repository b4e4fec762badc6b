# The README's two commands. Each sets up first (idempotent: seconds when everything is there).
PY := .venv/bin/python

.PHONY: setup demo test

setup:
	./scripts/setup.sh

## Set up everything and run the main job on the embedded defaults (bundled local model, penguin wood).
demo: setup
	.venv/bin/studio run

## Set up everything, check the style, and run the tests.
test: setup
	.venv/bin/ruff check studio tests benchmarks scripts
	.venv/bin/ruff format --check studio tests benchmarks scripts
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q --durations=15
