# stepflow: build, test, lint, demo, sanitize, rock, bench.
# The rockspec (rocks/stepflow-scm-1.rockspec) is the one source list: the
# C sources of each module are read from it, so the two cannot drift.

LUA        ?= lua5.4
LUA_INCDIR ?= /usr/include/lua5.4
CC         ?= gcc
CFLAGS     ?= -O2 -g
WARN        = -std=c99 -Wall -Wextra -Wpedantic
LIBFLAG    ?= -shared
BUSTED     ?= /usr/bin/busted
ROCKSPEC    = rocks/stepflow-scm-1.rockspec
ROCK_FLAGS ?=
BUILD      ?= build
# tools/check_requires.lua checks that every module the tree requires is
# ours or comes from one of these (keep its table of modules in step).
DEBS        = lua5.4 liblua5.4-dev libevent-dev libsqlite3-dev libssl-dev lua-busted lua-cjson \
              lua-check luarocks gcc make python3 openssl zlib1g-dev \
              lua-filesystem libpq-dev postgresql lua-socket nodejs awscli wrk chromium
# libpq's header (Debian: libpq-dev)
PG_INCDIR  ?= /usr/include/postgresql

srcs = $(shell $(LUA) tools/rock_sources.lua $(ROCKSPEC) $(1))
libs = $(shell $(LUA) tools/rock_sources.lua $(ROCKSPEC) $(1) --libs)

MODULES = stepflow.core.engine stepflow.core.json stepflow.core.store stepflow.core.codec \
          stepflow.core.pg
SOS     = $(foreach m,$(MODULES),$(BUILD)/$(subst .,/,$(m)).so)

# Only `make graphs` needs these (PNGs of docs/graphs).
GRAPH_DEBS  = librsvg2-bin
# Only `make fuzz` needs these (libFuzzer and its sanitizer runtimes).
FUZZ_DEBS   = clang libclang-rt-dev
FUZZ_SECONDS ?= 10
FUZZ_CC    ?= clang

.PHONY: all deps test test-all test-full lint check-requires demo sanitize rock clean check-rockspec bench history \
        conformance graphs console-shots fuzz fuzz-build

all: deps $(SOS)

# Every target first makes sure the Debian packages it needs are there.
deps:
	@missing=""; \
	for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get install -y --no-install-recommends $$missing || \
	     (apt-get update && apt-get install -y --no-install-recommends $$missing)) >/dev/null; \
	  else \
	    echo "missing Debian packages; run:"; \
	    echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@# npm comes with nodejs from some sources, and as Debian's npm otherwise
	@command -v npm >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  apt-get install -y --no-install-recommends npm >/dev/null
	@# the Node.js packages of package-lock.json (the specs' AWS SDK and
	@# playwright-core, which drives chromium for the web console's specs), once
	@[ node_modules/.package-lock.json -nt package-lock.json ] || \
	  npm ci --no-audit --no-fund --loglevel=error

$(BUILD)/stepflow/core/%.so: core/*.c core/*.h $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) -Icore -I$(PG_INCDIR) \
	  $(LIBFLAG) -o $@ $(call srcs,stepflow.core.$*) $(call libs,stepflow.core.$*)

# The default run leaves out the specs tagged #full (the long crash and
# failover tests, the AWS CLI); test-full has only them (CI runs both).
# tools/run_busted starts a throwaway PostgreSQL server for the specs that
# use one (tools/pg_test_server: initdb in a temporary folder, a Unix
# socket only, removed afterwards).
PG_RUN = tools/pg_test_server run --no-fsync --

test: all check-requires
	@tools/run_busted $(LUA) $(BUSTED) --exclude-tags=full

test-all: all check-requires
	@tools/run_busted $(LUA) $(BUSTED)

# Only the long specs that make test leaves out (CI runs these, then make test).
test-full: all check-requires
	@tools/run_busted $(LUA) $(BUSTED) --tags=full

# Every module that a spec, tool, bench script or lua/ file requires is
# ours or provided by a package in DEBS.
check-requires:
	@$(LUA) tools/check_requires.lua $(DEBS)

# luacheck (Debian's lua-check) with .luacheckrc, over the Lua files and
# the Lua scripts without a .lua name (bin/stepflow, bench/run, ...).
LUA_SCRIPTS = $(shell grep -lsE '^.!/usr/bin/env lua' bin/* bench/* tools/* tools/*/*)
lint: deps
	luacheck -q lua spec bench tools $(LUA_SCRIPTS)

demo: all
	bin/stepflow run examples/order/definition.asl.json \
	  --input @examples/order/input.json --handlers examples/order/handlers.lua

sanitize: deps
	$(MAKE) BUILD=build-san CC=gcc \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  build-san/stepflow/core/engine.so build-san/stepflow/core/json.so build-san/stepflow/core/store.so \
	  build-san/stepflow/core/codec.so build-san/stepflow/core/pg.so
	$(PG_RUN) env LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	STEPFLOW_CPATH="./build-san/?.so" tools/run_busted $(LUA) $(BUSTED) --exclude-tags=nosan

rock: deps
	luarocks --lua-version=5.4 make $(ROCK_FLAGS) $(ROCKSPEC)

check-rockspec:
	@$(LUA) tools/check_rockspec.lua $(ROCKSPEC)

bench: all
	bench/run
	lua5.4 bench/durable.lua
	lua5.4 bench/dmap_reader.lua
	lua5.4 bench/dmap.lua
	lua5.4 bench/dmap.lua --standard 1000000
	tools/pg_test_server run -- lua5.4 bench/shared.lua
	tools/pg_test_server run -- tools/failover_test --executions 1000 --kills 10 --stops 2 --lease-ms 1500
	lua5.4 bench/serve.lua
	lua5.4 bench/activities.lua

graphs: all
	@$(MAKE) --no-print-directory deps DEBS="$(GRAPH_DEBS)"
	tools/graphs docs/graphs

# Pictures of the web console (docs/console): stepflow serve, a few
# executions, headless Chromium.
console-shots: all
	tools/console_screenshots docs/console

conformance: all
	../shared/conformance/run --cmd bin/stepflow

# The AWS-recorded history corpus: every case passes but the known
# differences listed in docs/HISTORY.md.
history: all
	tools/check_history

# libFuzzer harnesses (fuzz/*_fuzz.c) under ASan and UBSan, each run for
# FUZZ_SECONDS on a copy of its committed seed corpus (fuzz/corpus/NAME);
# then the Lua-level fuzzer (fuzz/lua/fuzz.lua) for as long. Crashes are
# left in build-fuzz/ (crash-*) and make fails.
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
             -fno-sanitize-recover=all -I$(LUA_INCDIR) -Icore
FUZZ_BINS  = build-fuzz/json_fuzz build-fuzz/jsonpath_fuzz build-fuzz/regex_fuzz \
             build-fuzz/store_events_fuzz build-fuzz/http_request_fuzz

build-fuzz/json_fuzz build-fuzz/jsonpath_fuzz: build-fuzz/%: fuzz/%.c fuzz/fuzz_lua.h core/*.c core/*.h
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(call srcs,stepflow.core.json) -llua5.4 -lm

build-fuzz/regex_fuzz: fuzz/regex_fuzz.c core/jsonpath_regex.c core/jsonpath_regex.h
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< core/jsonpath_regex.c

build-fuzz/store_events_fuzz: fuzz/store_events_fuzz.c core/store_events.c core/store_events.h
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< core/store_events.c

build-fuzz/http_request_fuzz: fuzz/http_request_fuzz.c core/http_parse.c core/http_parse.h
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< core/http_parse.c

fuzz-build:
	@$(MAKE) --no-print-directory deps DEBS="$(FUZZ_DEBS)"
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: all fuzz-build
	@set -e; for b in $(FUZZ_BINS); do \
	  n=$$(basename $$b _fuzz); rm -rf build-fuzz/work-$$n; mkdir -p build-fuzz/work-$$n; \
	  cp fuzz/corpus/$$n/* build-fuzz/work-$$n/; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	  (cd build-fuzz && ./$$(basename $$b) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	     -rss_limit_mb=2048 -print_final_stats=1 work-$$n \
	     $$( [ -f ../fuzz/$$n.dict ] && echo -dict=../fuzz/$$n.dict ) \
	     >fuzz-$$n.log 2>&1) || { tail -n 40 build-fuzz/fuzz-$$n.log; exit 1; }; \
	  grep -E "^stat::number_of_executed_units|^Done" build-fuzz/fuzz-$$n.log | tail -n 1; \
	done
	$(LUA) fuzz/lua/fuzz.lua --seconds $(FUZZ_SECONDS)

clean:
	rm -rf build build-san build-fuzz stepflow core/*.o luacov.*
