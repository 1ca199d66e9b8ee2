# Quick start: `make demo` and `make test` each do all their own set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

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

test: $(STAMP)
	$(PY) -m pytest -q

samples: $(STAMP)
	$(PY) -m pip install -q -c constraints.txt scikit-image
	$(PY) samples/make_samples.py

clean:
	rm -rf $(VENV) out
