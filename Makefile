# The two commands a newcomer needs: `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/release/camscript

.PHONY: setup build release demo test check-examples clean fuzz fuzz-smoke

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

demo: release
	@mkdir -p out
	$(BIN) run examples/quickstart.cam --html out/quickstart.html
	@echo "demo: the report is at $(CURDIR)/out/quickstart.html"

test: setup
	$(SWIFT) build
	$(SWIFT) test
	$(MAKE) fuzz-smoke

# libFuzzer + AddressSanitizer targets in fuzz/targets (see docs/reliability.md).
# `make fuzz FUZZ_SECONDS=N` runs each target N seconds, one at a time; the corpus grows in
# .build-fuzz/corpus and crash inputs land in .build-fuzz/artifacts. Fails on any finding.
FUZZ_SECONDS ?= 600
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

# About 30 s per target: part of `make test`, fails the build on a crash, leak or timeout.
fuzz-smoke:
	fuzz/run.sh 30

clean:
	rm -rf .build out
