# Quick start: `make demo` and `make test` each do all their own set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# pymatting (the `fine` extra) compiles its numba kernels on first import (~80 s of CPU on a 2-core
# machine, cached in the venv afterwards): done once at set-up, not inside the first test or run
KERNELS := $(VENV)/.kernels

.PHONY: demo test venv samples bench eval clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; v=sys.version_info[:2]; sys.exit(0 if (3,10)<=v<=(3,12) else "livematte needs Python 3.10 to 3.12, got %d.%d: run make PYTHON=python3.11" % v)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m livematte.demo

$(KERNELS): $(STAMP)
	@echo "compiling pymatting's kernels for --fine-edges (once, about a minute)"
	$(PY) -c 'import pymatting'
	touch $(KERNELS)

test: $(STAMP) $(KERNELS)
	$(PY) -m pytest -q

samples: $(STAMP)
	$(PY) -m pip install -q -c constraints.txt scikit-image
	$(PY) samples/make_samples.py

clean:
	rm -rf $(VENV) out
