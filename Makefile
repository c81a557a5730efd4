# stepflow: build, test, demo, sanitize, rock, bench.
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
DEBS        = lua5.4 liblua5.4-dev libevent-dev libsqlite3-dev lua-busted lua-cjson \
              luarocks gcc make python3

srcs = $(shell $(LUA) tools/rock_sources.lua $(ROCKSPEC) $(1))
libs = $(shell $(LUA) tools/rock_sources.lua $(ROCKSPEC) $(1) --libs)

MODULES = stepflow.core.engine stepflow.core.json stepflow.core.store
SOS     = $(foreach m,$(MODULES),$(BUILD)/$(subst .,/,$(m)).so)

.PHONY: all deps test demo sanitize rock clean check-rockspec bench conformance

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

$(BUILD)/stepflow/core/%.so: core/*.c core/*.h $(ROCKSPEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) -Icore \
	  $(LIBFLAG) -o $@ $(call srcs,stepflow.core.$*) $(call libs,stepflow.core.$*)

test: all
	@tools/run_busted $(LUA) $(BUSTED)

demo: all
	bin/stepflow run examples/order/definition.asl.json \
	  --input @examples/order/input.json --handlers examples/order/handlers.lua

sanitize: deps
	$(MAKE) BUILD=build-san CC=gcc \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  build-san/stepflow/core/engine.so build-san/stepflow/core/json.so build-san/stepflow/core/store.so
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	STEPFLOW_CPATH="./build-san/?.so" tools/run_busted $(LUA) $(BUSTED) --exclude-tags=nosan

rock: deps
	luarocks --lua-version=5.4 make $(ROCK_FLAGS) $(ROCKSPEC)

check-rockspec:
	@$(LUA) tools/check_rockspec.lua $(ROCKSPEC)

bench: all
	bench/run
	lua5.4 bench/durable.lua

conformance: all
	../shared/conformance/run --cmd bin/stepflow

clean:
	rm -rf build build-san stepflow core/*.o luacov.*
