# The two commands of the README: `make demo` and `make test`. Both set the machine up first.
SWIFT ?= swift
MLPACK := .build/debug/mlpack

.PHONY: setup build demo test format fuzz bench bench-smoke clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build

demo: build
	@bash scripts/demo.sh $(MLPACK)

test: build
	$(SWIFT) format lint --strict --recursive Sources Tests Plugins Package.swift
	$(SWIFT) test
	@bash bench/run.sh --smoke >/dev/null && echo "bench-smoke: the benchmark harness works"

# Rewrites the sources as .swift-format says (make test fails on what this would change).
format:
	$(SWIFT) format format --in-place --recursive Sources Tests Plugins Package.swift

# Side by side with tar+zstd+sha256sum, openssl, model-signing, DVC: bench/RESULTS.md.
bench: setup
	@bash bench/run.sh

bench-smoke: setup
	@bash bench/run.sh --smoke

# libFuzzer on the readers for FUZZ_SECONDS (default 600); not part of `make test`.
fuzz: setup
	@bash scripts/fuzz.sh

clean:
	rm -rf .build .build-fuzz out
