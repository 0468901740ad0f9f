# Developer entry points. `make run` and `make test` are the two set-up commands in README.md:
# each installs missing Debian packages first, so they work on a fresh machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
ARGS       ?=

.PHONY: all deps build asan run test test-fast unit fuzz fuzz-smoke bench clean format install npm

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
# (pulsar-flex), then a short fuzz run of the frame decoder. The optimised tree is built too, so
# warnings that only -O2 finds fail here rather than in `make run`.
test: asan build npm
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j2 $(if $(T),-R $(T),)
	$(MAKE) --no-print-directory fuzz-smoke

# `make test-fast T=regex`: the same tests on the optimised build
test-fast: build npm
	cd $(BUILD) && ctest --output-on-failure $(if $(T),-R $(T),)

fuzz-build:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMG_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_frame

fuzz-smoke: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus && cp tests/fuzz/corpus/* $(FUZZ_BUILD)/corpus/ 2>/dev/null || true
	$(FUZZ_BUILD)/bin/fuzz_frame -max_total_time=20 -max_len=65536 $(FUZZ_BUILD)/corpus tests/fuzz/corpus
	@echo "fuzz: 1 passed, 0 failed"

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/bin/fuzz_frame -max_total_time=$${FUZZ_SECONDS:-600} $(FUZZ_BUILD)/corpus tests/fuzz/corpus

bench: build
	$(MAKE) -C bench QUICK=$(QUICK)

install: build
	cmake --install $(BUILD) --prefix $${PREFIX:-/usr/local}

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
