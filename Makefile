# The two commands a newcomer needs: `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/release/camscript

.PHONY: setup build release demo test test-avx2 test-hostile test-dataset-memory check-examples clean fuzz fuzz-smoke

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

demo: release
	@mkdir -p out
	$(BIN) run examples/quickstart.cam --html out/quickstart.html
	@bash scripts/screenshot.sh out/quickstart.html docs/images/report.png 1000,1250
	@echo "demo: the report is at $(CURDIR)/out/quickstart.html"

test: setup
	$(SWIFT) build
	$(SWIFT) test
	$(MAKE) test-avx2
	$(MAKE) test-hostile
	$(MAKE) fuzz-smoke

# Every hostile case of issue 17 against the debug binary: 30 s and 2 GiB each, no signal, no
# leftover temporary file (tools/hostile/run.sh; its table is the one in docs/reliability.md).
test-hostile:
	tools/hostile/run.sh .build/debug/camscript

# The numerical tests again on the kernels an AVX2-only CPU gets (OpenBLAS's Haswell kernels,
# oneDNN capped at AVX2), so that an AVX-512 machine catches what would fail on an AMD EPYC
# without AVX-512 (issue 14). KernelPathTests fails the run if either library ignored the cap.
AVX2_TESTS := KernelPathTests|MetricsParityTests|ONNXParityTests|OperatorGradientTests|ModelParityTests|CAMNetworkParityTests|CAMHeadParityTests|CAMTinyParityTests|CAMChannelWeightsTests|CAMUnitTests|CAMRealActivationTests|DefaultModelTests|LayerGradientTests|LayerParityTests|LayerOneDNNTests|LayerOneDNNConvolutionTests|ModelNetworkTests|OneDNNWarmUpTests|PartialRetentionTests|ScoreCAMConstantChannelTests|GoldenTests|ExamplesTests
test-avx2:
	OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 CAMSCRIPT_TEST_KERNELS=Haswell/avx2 \
		$(SWIFT) test --skip-build --filter '$(AVX2_TESTS)'

# A 10,000-image dataset run keeps its memory flat (issue 20): a few minutes, so not in `make test`.
test-dataset-memory: release
	scripts/check_dataset_memory.sh $(BIN) 10000

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
