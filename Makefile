# exomir: workstation set-up (Debian/Ubuntu, no conda), example run and tests.
#   make example   set up, write the simulated example, run the workflow on it
#   make test      set up, run the test suite
# Both are idempotent: a second call only redoes what changed.

VENV        ?= .venv
PYTHON      := $(VENV)/bin/python
SNAKEMAKE   := $(VENV)/bin/snakemake
CORES       ?= 2
SYSTEM_TOOLS := bowtie samtools
EXAMPLE     := resources/example/samples.tsv

.PHONY: setup system-tools example example-data test lint benchmark clean

setup: system-tools $(VENV)/.installed

# bowtie 1.x and samtools from Debian's packages (root, or sudo where available), and
# python3-venv where the system Python lacks venv/ensurepip (plain Debian 12).
system-tools:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	python3 -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@bowtie --version | head -n 1; samtools --version | head -n 1

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	grep -v '^umi-tools==' requirements.txt > $(VENV)/requirements-first.txt
	$(PYTHON) -m pip install --quiet -r $(VENV)/requirements-first.txt
	$(PYTHON) -m pip install --quiet --no-build-isolation $$(grep '^umi-tools==' requirements.txt)
	$(PYTHON) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(EXAMPLE): $(VENV)/.installed workflow/exomir/simulate.py
	$(PYTHON) -m exomir.simulate --outdir resources/example

example-data: $(EXAMPLE)

example: setup example-data
	$(SNAKEMAKE) --cores $(CORES) --config samples=$(EXAMPLE)

test: setup
	$(PYTHON) -m pytest tests

# samples: is required (no silent default sheet): lint the workflow on the bundled example
lint: setup example-data
	$(SNAKEMAKE) --lint --config samples=$(EXAMPLE)
	$(VENV)/bin/snakefmt --check Snakefile workflow

# CPU per million reads and peak memory per stage on simulated cohorts, against the naive
# script; a 1,000-sample dry run; per-sample jobs of 1 M-read NEXTflex and QIAseq libraries.
# Options go through BENCHMARK_ARGS, e.g. the 20 M-read memory runs (~1 h):
#   make benchmark BENCHMARK_ARGS="--memory-reads 1000000 20000000"
# The DE step alone on 500 samples: $(PYTHON) benchmarks/de_benchmark.py
BENCHMARK_ARGS ?=
benchmark: setup
	$(PYTHON) benchmarks/workflow_benchmark.py $(BENCHMARK_ARGS)

clean:
	rm -rf results logs .snakemake
