# Developer entry points. `make run` and `make test` are the two set-up commands in README.md:
# each installs missing Debian packages first, so they work on a fresh machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)
ARGS       ?=

.PHONY: all deps build asan run test test-fast unit fuzz fuzz-smoke tsan-smoke bench clean format install npm

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMG_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

run: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS) --target magnetar magnetar-admin magnetar-client magnetar-perf
	$(BUILD)/bin/magnetar standalone -c conf/broker.conf $(ARGS)

npm:
	@if [ -f tests/compat/package-lock.json ] && [ ! -d tests/compat/node_modules/pulsar-flex ]; then \
	  cd tests/compat && npm ci --no-audit --no-fund --silent; fi

# The whole suite runs on the sanitizer build (ASan+UBSan): unit, integration, crash, compat
# (pulsar-flex), then short fuzz runs of the frame decoder, the store's recovery and the token
# verifier, and the threaded paths under ThreadSanitizer. The optimised tree is built too, so
# warnings that only -O2 finds fail here rather than in `make run`.
test: asan build npm
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j2 $(if $(T),-R $(T),)
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory tsan-smoke

# ThreadSanitizer on what crosses threads: the storage workers (unit), and a broker under
# produce, crash/restart, large sendfile dispatch, subscriptions, token auth (the admin's HTTP
# threads verify tokens too) and the client library's threads (integration). Any report fails the run.
TSAN_TESTS := unit/test_storage|integration/0[1-49]-|integration/11-|integration/3[01]-
tsan-smoke: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMG_TSAN=ON >/dev/null
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target magnetar test_storage it-01-connect-produce \
	  it-02-crash-recovery it-03-subscriptions it-04-dedup-partitions it-09-large-dispatch \
	  it-11-auth-token it-30-client-produce-consume it-31-client-consumers magnetar-client
	@rm -rf $(TSAN_BUILD)/tsan-reports && mkdir -p $(TSAN_BUILD)/tsan-reports
	cd $(TSAN_BUILD) && TSAN_OPTIONS=log_path=$(abspath $(TSAN_BUILD))/tsan-reports/r:halt_on_error=0 \
	  ctest --output-on-failure -j2 -R '$(TSAN_TESTS)'
	@if ls $(TSAN_BUILD)/tsan-reports/r* >/dev/null 2>&1; then cat $(TSAN_BUILD)/tsan-reports/r*; \
	  echo "tsan: data races reported"; exit 1; fi
	@echo "tsan: 1 passed, 0 failed"

# `make test-fast T=regex`: the same tests on the optimised build
test-fast: build npm
	cd $(BUILD) && ctest --output-on-failure $(if $(T),-R $(T),)

fuzz-build:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMG_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_frame fuzz_recovery fuzz_token

fuzz-smoke: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus && cp tests/fuzz/corpus/* $(FUZZ_BUILD)/corpus/ 2>/dev/null || true
	$(FUZZ_BUILD)/bin/fuzz_frame -max_total_time=20 -max_len=65536 $(FUZZ_BUILD)/corpus tests/fuzz/corpus
	@mkdir -p $(FUZZ_BUILD)/corpus-recovery
	$(FUZZ_BUILD)/bin/fuzz_recovery -max_total_time=10 -max_len=4096 $(FUZZ_BUILD)/corpus-recovery tests/fuzz/corpus-recovery
	@mkdir -p $(FUZZ_BUILD)/corpus-token
	$(FUZZ_BUILD)/bin/fuzz_token -max_total_time=5 -max_len=2048 $(FUZZ_BUILD)/corpus-token tests/fuzz/corpus-token
	@echo "fuzz: 3 passed, 0 failed"

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/bin/fuzz_frame -max_total_time=$${FUZZ_SECONDS:-600} $(FUZZ_BUILD)/corpus tests/fuzz/corpus
	@mkdir -p $(FUZZ_BUILD)/corpus-recovery
	$(FUZZ_BUILD)/bin/fuzz_recovery -max_total_time=$${FUZZ_SECONDS:-600} -max_len=4096 $(FUZZ_BUILD)/corpus-recovery tests/fuzz/corpus-recovery
	@mkdir -p $(FUZZ_BUILD)/corpus-token
	$(FUZZ_BUILD)/bin/fuzz_token -max_total_time=$${FUZZ_SECONDS:-600} -max_len=2048 $(FUZZ_BUILD)/corpus-token tests/fuzz/corpus-token

bench: build
	$(MAKE) -C bench QUICK=$(QUICK)

install: build
	cmake --install $(BUILD) --prefix $${PREFIX:-/usr/local}

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
