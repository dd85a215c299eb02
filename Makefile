# Taipan — the two commands the README opens with:
#   make train   install what is missing, build in release, prepare the sample data, pretrain
#   make test    install what is missing, build, run the test suite
# Everything else here is a step of those two.

SWIFT          ?= swift
# One release build serves the tests and the tools, so `make test` and `make train` share it.
# Numeric tests are far too slow in debug builds; -enable-testing keeps @testable imports working.
# On CPUs with AVX2 and FMA the kernels' SIMD8 code compiles to single AVX instructions
# (measured: about 1.3× faster steps), and TAIPAN_FMA lets `multiplyAdd` fuse (the scan's
# exponentials and recurrences: about 1.15× faster bench-small steps); the flags stay out of
# Package.swift so that packages depending on Taipan build anywhere.
CPU_FLAGS      := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo "-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DTAIPAN_FMA")
RELEASE_FLAGS  := -c release -Xswiftc -enable-testing $(CPU_FLAGS)
TEST_FLAGS     := $(RELEASE_FLAGS)
# python3 and perl provide text for the sample dataset (Python's standard library, Perl's modules);
# Open MPI (the library and mpirun) runs data-parallel training: `mpirun -np N taipan train`.
DEBIAN_PACKAGES := pkg-config libopenblas-dev libzstd-dev zstd python3 perl libopenmpi-dev openmpi-bin
SUDO           := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build bin-path test train sample-data sample-tokenizer sample-tokens clean

# Installs the Debian packages that are missing (nothing when all are there).
deps:
	@command -v $(SWIFT) >/dev/null || { echo "error: the Swift 6 toolchain is not on PATH (https://www.swift.org/install/linux/)" >&2; exit 1; }
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing missing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(RELEASE_FLAGS)

# Where `make build` puts the `taipan` executable (for scripts: "$$(make -s bin-path)/taipan").
bin-path:
	@$(SWIFT) build $(RELEASE_FLAGS) --show-bin-path

# The executable is built first: the command-line tests run it.
test: deps
	$(SWIFT) build $(TEST_FLAGS)
	$(SWIFT) test $(TEST_FLAGS)

QUICKSTART        := configs/quickstart.toml
QUICKSTART_RUN    := runs/quickstart

# Pretrains the quickstart model on the sample (it evaluates and prints a sample at the end).
# Run again, it resumes from the newest checkpoint; once finished, it only evaluates again.
# FORCE=1 starts over (deletes the run's checkpoints and logs), e.g. after the sample changed.
# TAIPAN_COMMAND lets taipan word its advice as this command.
train: sample-tokenizer
	@if [ -n "$(FORCE)" ]; then start=--force; \
	elif ls $(QUICKSTART_RUN)/checkpoints/step-*/COMPLETE >/dev/null 2>&1; then start=--resume; fi; \
	TAIPAN_COMMAND="make train" $(SWIFT) run $(RELEASE_FLAGS) taipan train $(QUICKSTART) $$start

SAMPLE_DIR        := datasets/sample
SAMPLE_TOKENIZER  := $(SAMPLE_DIR)/tokenizer/tokenizer.json
SAMPLE_TOKENS     := $(SAMPLE_DIR)/tokens
SAMPLE_VOCAB_SIZE := 4096

# Builds the Pile-style sample dataset from text this Debian machine has (datasets/sample/, git-ignored).
# Files that come out the same are left untouched, so what is made from them stays up to date.
sample-data: build
	$(SWIFT) run $(RELEASE_FLAGS) taipan data sample --out $(SAMPLE_DIR)

# A 4096-id byte-level BPE trained on the sample's train split; kept while no train shard is newer.
sample-tokenizer: sample-data
	@if [ -f $(SAMPLE_TOKENIZER) ] && [ -z "$$(find $(SAMPLE_DIR) -maxdepth 1 -name 'train-*.jsonl.zst' -newer $(SAMPLE_TOKENIZER))" ]; then \
		echo "$(SAMPLE_TOKENIZER) is up to date"; \
	else \
		rm -f $(SAMPLE_TOKENIZER) && \
		$(SWIFT) run $(RELEASE_FLAGS) taipan tokenizer train --vocab-size $(SAMPLE_VOCAB_SIZE) \
			--out $(dir $(SAMPLE_TOKENIZER)) $(SAMPLE_DIR)/train-*.jsonl.zst; \
	fi

# Token shards of the sample with that tokenizer. `taipan data prepare` does nothing when they
# are complete and restarts a killed run; they are removed first when the tokenizer or the
# sample has changed since.
sample-tokens: sample-tokenizer
	@if [ -f $(SAMPLE_TOKENS)/manifest.json ] && [ -n "$$(find $(SAMPLE_TOKENIZER) $(SAMPLE_DIR) -maxdepth 1 -name '*.json*' -newer $(SAMPLE_TOKENS)/manifest.json)" ]; then \
		echo "$(SAMPLE_TOKENS) is older than its inputs; preparing it again"; rm -rf $(SAMPLE_TOKENS); \
	fi
	$(SWIFT) run $(RELEASE_FLAGS) taipan data prepare --tokenizer $(SAMPLE_TOKENIZER) --out $(SAMPLE_TOKENS) \
		$(SAMPLE_DIR)/train-*.jsonl.zst --validation $(SAMPLE_DIR)/val-*.jsonl.zst

clean:
	rm -rf .build

# ---- Reliability: fuzzing and sanitizers -------------------------------------------------
# The fuzz targets are a package of their own (Fuzz/Package.swift, depending on this one by
# path), so this package keeps no unsafe flags. Each is built with libFuzzer and
# AddressSanitizer and run for FUZZ_SECONDS on its seed corpus (Fuzz/Corpus/<target>, made by
# Fuzz/make-corpus.py). New corpus entries and crash, timeout and out-of-memory files go to
# FUZZ_OUT (under the git-ignored .build-fuzz). Run one target: make fuzz FUZZ_TARGETS=FuzzRecords.
FUZZ_SECONDS  ?= 600
FUZZ_TARGETS  ?= FuzzSafeTensors FuzzTokenizerFile FuzzRecords FuzzTrainConfig FuzzTokenShard FuzzTorchCheckpoint
FUZZ_SCRATCH  := .build-fuzz
FUZZ_OUT      ?= $(FUZZ_SCRATCH)/runs
# A run longer than 10 s is reported as a hang; one over 2 GiB as out of memory. Leaks of the
# libraries beneath (Foundation, TOMLKit) are suppressed, each explained in Sanitizers/lsan.supp.
FUZZ_OPTIONS  ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
# TOMLKit leaks on every document, so leak checks would stop FuzzTrainConfig at each input (and
# symbolizing them runs it at a few inputs a second): that target runs without them.
FUZZ_OPTIONS_FuzzTrainConfig := -detect_leaks=0

.PHONY: fuzz fuzz-build sanitize sanitize-address sanitize-thread

fuzz-build: deps
	$(SWIFT) build --package-path Fuzz --scratch-path $(FUZZ_SCRATCH) -c release -Xswiftc -sanitize=fuzzer,address

# Runs every target in turn; fails at the end naming the targets that found a crash.
fuzz: fuzz-build
	@failed=""; bin=$$($(SWIFT) build --package-path Fuzz --scratch-path $(FUZZ_SCRATCH) -c release --show-bin-path); \
	for target in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_OUT)/$$target/corpus $(FUZZ_OUT)/$$target/artifacts; \
		echo "== $$target: $(FUZZ_SECONDS) s, log in $(FUZZ_OUT)/$$target/fuzz.log"; \
		extra=""; [ $$target = FuzzTrainConfig ] && extra="$(FUZZ_OPTIONS_FuzzTrainConfig)"; \
		LSAN_OPTIONS=suppressions=$(CURDIR)/Sanitizers/lsan.supp \
		$$bin/$$target $(FUZZ_OUT)/$$target/corpus Fuzz/Corpus/$$target -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(FUZZ_OUT)/$$target/artifacts/ $(FUZZ_OPTIONS) $$extra > $(FUZZ_OUT)/$$target/fuzz.log 2>&1 \
			|| failed="$$failed $$target"; \
		grep -E '^#[0-9]+.*(DONE|cov:)' $(FUZZ_OUT)/$$target/fuzz.log | tail -1; \
		grep -E '^stat::number_of_executed_units' $(FUZZ_OUT)/$$target/fuzz.log; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzzing found problems in:$$failed (inputs in $(FUZZ_OUT)/<target>/artifacts)" >&2; exit 1; fi

# The test suite under AddressSanitizer and under ThreadSanitizer, each in its own build
# folder (release with -enable-testing, as `make test`). Suppressions, each explained, are in
# Sanitizers/.
ASAN_SCRATCH  := .build-asan
TSAN_SCRATCH  := .build-tsan
sanitize: sanitize-address sanitize-thread

# The ranks that the two-rank tests start through mpirun unwind the stack of every allocation
# in full (OMPI_MCA_mca_base_env_list sets their environment, and only theirs): Open MPI's
# leaks at exit come through libc's vasprintf, which the fast unwinder cannot get past, so
# without it they show no Open MPI frame for Sanitizers/lsan.supp to match.
sanitize-address: deps
	$(SWIFT) build --scratch-path $(ASAN_SCRATCH) $(TEST_FLAGS) --sanitize=address --build-tests
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/Sanitizers/lsan.supp \
	OMPI_MCA_mca_base_env_list="ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0" \
		$(SWIFT) test --scratch-path $(ASAN_SCRATCH) $(TEST_FLAGS) --sanitize=address --skip-build

sanitize-thread: deps
	$(SWIFT) build --scratch-path $(TSAN_SCRATCH) $(TEST_FLAGS) --sanitize=thread --build-tests
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/Sanitizers/tsan.supp" \
		$(SWIFT) test --scratch-path $(TSAN_SCRATCH) $(TEST_FLAGS) --sanitize=thread --skip-build
