# The two commands a newcomer needs: `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/release/camscript

.PHONY: setup build release demo test check-examples clean

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

clean:
	rm -rf .build out
