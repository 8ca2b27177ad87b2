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

.PHONY: setup package lint test test-core test-qgis demo bench clean

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

# The benchmarks import the assembled plugin and the tests' data helpers (lcnn_testing).
bench: setup package
	PYTHONPATH=$(CURDIR)/build/plugins:$(CURDIR)/tests $(PY) -m benchmarks

clean:
	rm -rf build dist demo_output bench_output .pytest_cache .ruff_cache
