.PHONY: install test test-fast lint quick study

install:
	./setup.sh

# The README's test command: the fast suite, then the slow real-model/real-data tests CI also runs.
test:
	.venv/bin/python -m pytest -q
	.venv/bin/python -m pytest -q -m slow

test-fast:
	.venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check clir_calib tests plugins bench
	.venv/bin/mypy

quick:
	.venv/bin/clir-calib run configs/quick.yaml

study:
	.venv/bin/clir-calib run configs/multi30k-zero-shot.yaml
