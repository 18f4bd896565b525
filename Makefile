# torsh: `make demo` trains a small model and writes its profile; `make test` runs the whole suite.
# Both create (or reuse) .venv and install everything they need into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.torsh-installed
PYTEST_ARGS ?=
# `make setup MARCH=native` compiles the kernels for this CPU only (faster, not portable)
MARCH ?=
MESON_ARGS := $(if $(MARCH),-Csetup-args=-Dmarch=$(MARCH),)

.PHONY: setup test fuzz demo bench lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Editable install: meson rebuilds the Pythran kernels on import when their sources change.
# The JupyterLab extension is a regular install, so its sources are listed: editing them reinstalls.
EXTENSION_SOURCES := extension/package.json extension/pyproject.toml $(wildcard extension/src/*.ts extension/style/*)
$(STAMP): $(BIN)/python pyproject.toml meson.build meson.options requirements-dev.txt $(EXTENSION_SOURCES)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pip install --quiet --no-build-isolation --editable . $(MESON_ARGS)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pip install --quiet --no-build-isolation ./extension
	touch $@

setup: $(STAMP)

# The kernels are required here: a missing compiled module fails the run instead of falling back to NumPy.
# The tutorials run top to bottom under nbval, outputs compared after notebooks/sanitize.cfg;
# TORSH_NO_CALIBRATION keeps a machine's calibration cache from changing the dispatch they print.
test: $(STAMP)
	TORSH_REQUIRE_KERNELS=1 TORSH_NO_CALIBRATION=1 $(BIN)/python -m pytest tests notebooks -q \
		--nbval --nbval-sanitize-with notebooks/sanitize.cfg $(PYTEST_ARGS)

# The property-based fuzz suite against PyTorch (tests/fuzz) for much longer than `make test` runs it:
# random seeds and 40x the examples (TORSH_FUZZ_PROFILE=long); failures print a reproduction blob
fuzz: $(STAMP)
	TORSH_REQUIRE_KERNELS=1 TORSH_NO_CALIBRATION=1 TORSH_FUZZ_PROFILE=long $(BIN)/python -m pytest tests/fuzz -q \
		$(PYTEST_ARGS)

demo: $(STAMP)
	TORSH_REQUIRE_KERNELS=1 $(BIN)/python -m torsh.demo --out profile
	@echo "Next: 'make lab' opens JupyterLab on the tutorials in notebooks/ (open profile/*.trace.json there too)."

# JupyterLab opened on the tutorials (notebooks/), with torsh's extension and widgets installed;
# rooted at the repository so profile/demo.trace.json opens in it too
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build profile .pytest_cache
