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
