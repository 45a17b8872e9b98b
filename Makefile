# The two commands of the README: `make demo` and `make test`. Both set the machine up first.
SWIFT ?= swift
MLPACK := .build/debug/mlpack

.PHONY: setup build demo test fuzz clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build

demo: build
	@bash scripts/demo.sh $(MLPACK)

test: build
	$(SWIFT) test

# libFuzzer on the readers for FUZZ_SECONDS (default 600); not part of `make test`.
fuzz: setup
	@bash scripts/fuzz.sh

clean:
	rm -rf .build .build-fuzz out
