# The two commands of the README: `make demo` and `make test`. Both set the machine up first.
SWIFT ?= swift
MLPACK := .build/debug/mlpack

.PHONY: setup build demo test clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build

demo: build
	@bash scripts/demo.sh $(MLPACK)

test: build
	$(SWIFT) test

clean:
	rm -rf .build out
