# Thin wrapper: the real build is CMake. Every target is safe to run on a fresh
# Debian 12 machine; `deps` installs what is missing and nothing else.
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build run test test-asan test-tsan bench soak package format clean

all: build

deps:
	packaging/install-deps.sh

configure: deps
	cmake --preset default -B $(BUILD)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/bin/byparr

# On failure, the failed tests' assertions are repeated at the end (tests/support/failure_summary.sh).
SUMMARY = || { tests/support/failure_summary.sh $(1); exit 1; }

test: build
	(cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)) $(call SUMMARY,$(BUILD))

test-asan: deps
	cmake --preset asan
	cmake --build build-asan -j $(JOBS)
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)) \
		$(call SUMMARY,build-asan)

# The core and host tests under ThreadSanitizer (issue #17): the engine, the HTTP host with
# the fixture plugins, the browserless plugins' pure parts. Only these targets are built (no
# Qt worker, no browser tests: Chromium is not instrumented and would only add minutes), and
# ctest runs every test they registered. halt_on_error: a race in a child host process
# fails the test that started it, not just its log. Suppressions: tests/tsan.supp.
TSAN_TARGETS ?= unit_tests plugin_unit_tests egress_guard_test host_api_test startup_test status_page_test \
	byparr byparr_fixture_plugins
test-tsan: deps
	cmake --preset tsan
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_TARGETS)
	(cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		ctest --output-on-failure -j $(JOBS) -E '_NOT_BUILT|^(Packaging|Fuzz|SdkConsumer)\.' $(CTEST_ARGS)) \
		$(call SUMMARY,build-tsan)

bench: build
	$(BUILD)/bin/byparr-bench-micro
	$(BUILD)/bin/byparr-bench-e2e
	bench/load_bench.sh $(BUILD)

# The long soak (tests/soak): mixed load for SOAK_SECONDS (at most 600), a CSV of memory,
# processes and descriptors, and a PNG of it when gnuplot is installed. ctest runs a 75 s one.
SOAK_SECONDS ?= 600
SOAK_CSV ?= $(BUILD)/soak/soak-long.csv
soak: build
	BYPARR_SOAK_SECONDS=$(SOAK_SECONDS) BYPARR_SOAK_CSV=$(abspath $(SOAK_CSV)) $(BUILD)/bin/soak_test
	tests/soak/plot.sh $(SOAK_CSV) || echo "no PNG (see above); the CSV is $(SOAK_CSV)"

package: build
	cd $(BUILD) && cpack -G DEB

format:
	git ls-files '*.cpp' '*.h' '*.hpp' '*.c' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan build-tsan
