# landcover-cnn: `make demo` and `make test` work on a fresh Debian 12 machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export QT_QPA_PLATFORM ?= offscreen
export XDG_RUNTIME_DIR ?= $(CURDIR)/build/xdg-runtime
export QGIS_CUSTOM_CONFIG_PATH ?= $(CURDIR)/build/qgis-config
export QGIS_PLUGINPATH ?= $(CURDIR)/build/plugins
export TF_CPP_MIN_LOG_LEVEL ?= 2
PYTEST_ARGS ?=

.PHONY: setup package lint test test-core test-qgis demo bench bench-quick clean

setup:
	@bash scripts/setup.sh
	@mkdir -p $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)

package:
	@/usr/bin/python3 scripts/package.py

lint: setup
	$(VENV)/bin/ruff check --output-format concise .

# Two pytest runs: TensorFlow must never share a process with QGIS (libprotobuf clash),
# so tests that load TensorFlow run without the pytest-qgis plugin, and the in-process
# QGIS tests run on their own. --qgis_disable_exit: QGIS 3.22's exitQgis() at interpreter exit
# segfaults after the processing tests (all passed by then); the process ends anyway.
# --rootdir: pytest-qgis writes its QGIS profile (settings, auth and style databases) into
# <rootdir>/.qgis-settings, which must not be the checkout.
QGIS_TEST_ROOTDIR := build/pytest-qgis
test: setup package lint
	$(PY) -m pytest -p no:pytest_qgis tests/core tests/cli $(PYTEST_ARGS)
	@mkdir -p $(QGIS_TEST_ROOTDIR)
	$(PY) -m pytest tests/qgis --rootdir $(QGIS_TEST_ROOTDIR) --qgis_disable_gui --qgis_disable_exit $(PYTEST_ARGS)

demo: setup package
	$(PY) scripts/demo.py

# Benchmarks import the assembled plugin and the test data helpers (tests/lcnn_testing.py) from this
# module path, never by editing sys.path; bytecode goes under build/. `make bench BENCH="active_learning
# --seeds 42"` runs one (names, then its options).
BENCH_ENV := PYTHONSAFEPATH=1 PYTHONPATH=$(CURDIR)/build/plugins:$(CURDIR)/tests:$(CURDIR) \
	PYTHONPYCACHEPREFIX=$(CURDIR)/build/pycache
bench: setup package
	@bash scripts/setup_bench.sh
	$(BENCH_ENV) $(PY) -m benchmarks $(BENCH)

# A smoke run of the engine benchmark (one epoch, a 1.2 Mpx mosaic): every row, minutes not hours.
bench-quick: setup package
	$(BENCH_ENV) $(PY) -m benchmarks engine --quick

clean:
	rm -rf build dist demo_output bench_output .pytest_cache .ruff_cache
