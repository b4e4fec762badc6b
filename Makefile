# The README's two commands. Each sets up first (idempotent: seconds when everything is there).
PY := .venv/bin/python

.PHONY: setup setup-tests demo test

setup:
	./scripts/setup.sh

setup-tests:
	./scripts/setup.sh --tests

## Set up everything and run the main job on the embedded defaults (bundled local model, penguin wood).
demo: setup
	.venv/bin/studio run

## Set up everything (and chromium, for the UI and report tests), check the style, and run the tests.
test: setup-tests
	.venv/bin/ruff check studio tests benchmarks scripts
	.venv/bin/ruff format --check studio tests benchmarks scripts
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -n 2 --dist loadgroup --durations=15
