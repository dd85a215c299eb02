# Taipan — the two commands the README opens with:
#   make train   install what is missing, build in release, prepare the sample data, pretrain
#   make test    install what is missing, build, run the test suite
# Everything else here is a step of those two.

SWIFT          ?= swift
RELEASE_FLAGS  := -c release
# Numeric tests are far too slow in debug builds; -enable-testing keeps @testable imports working.
TEST_FLAGS     := -c release -Xswiftc -enable-testing
# python3 and perl provide text for the sample dataset (Python's standard library, Perl's modules).
DEBIAN_PACKAGES := pkg-config libopenblas-dev libzstd-dev zstd python3 perl
SUDO           := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test sample-data clean

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

# The executable is built first: the command-line tests run it.
test: deps
	$(SWIFT) build $(TEST_FLAGS)
	$(SWIFT) test $(TEST_FLAGS)

# Builds the Pile-style sample dataset from text this Debian machine has (datasets/sample/, git-ignored).
sample-data: build
	$(SWIFT) run $(RELEASE_FLAGS) taipan data sample --out datasets/sample

clean:
	rm -rf .build
