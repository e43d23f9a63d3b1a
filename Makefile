# kite: a plain Makefile.
#
#   make                     build build/kite
#   make test                install what is missing (scripts/setup.sh), then `make check`
#   make check               build and run every test (unit, end-to-end, compat, fuzz corpus,
#                            the layer rule) without touching packages
#   make run                 install what is missing, build, start `kite server local`
#   make SANITIZER=address   the same under ASan (also: undefined, thread); objects go to build-<san>/
#   make fuzz                build libFuzzer targets (clang) and fuzz each for FUZZ_SECONDS
#   make bench               build and run every benchmark under bench/ (bench_*.c and bench_*.sh)
#   make valgrind            run the unit tests under valgrind

SANITIZER ?=
BUILD     ?= build$(if $(SANITIZER),-$(SANITIZER))
CC        ?= cc
OPT       ?= -O2
PKGS      := yaml-0.1 jansson sqlite3 libpcre2-8 libmicrohttpd libcurl libssh libgit2 libpq libmariadb libmongoc-1.0 libsodium libcrypto gnutls avro-c libseccomp libarchive
DEPS_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ljq -lonig -lpthread -lm
# kite itself links only its core: the client libraries below are opened on first use
# (src/util/dl.h), so that a command that does not use them never maps them. Tests and
# benches that call a client library directly keep linking all of DEPS_LIBS.
LAZY_PKGS   := libmongoc-1.0 libpq libmariadb libgit2 libssh avro-c libcurl libarchive
KITE_LIBS   := $(shell pkg-config --libs $(filter-out $(LAZY_PKGS),$(PKGS)) 2>/dev/null) -ljq -lonig -lpthread -lm -ldl

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Isrc $(WARN) $(CFLAGS) $(DEPS_CFLAGS) -MMD -MP
LDFLAGS  ?=
ifneq ($(SANITIZER),)
  ALL_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
  LDFLAGS    += -fsanitize=$(SANITIZER)
endif

LAYERS   := util storage store expr flow hub tasks engine sched server cli
# A layer's sources: src/<layer>/*.c and one level of subfolders (src/tasks/sql/*.c).
LIB_SRC  := $(filter-out src/cli/main.c,$(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c src/$(l)/*/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/cli/main.o
LIB      := $(BUILD)/libkite.a
KITE     := $(BUILD)/kite

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test check check-layers run fuzz bench valgrind clean deps unit-bins
all: $(KITE)

deps:
	@./scripts/setup.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(KITE): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(KITE_LIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(DEPS_LIBS) -lcmocka

# Fuzz targets also build as plain programs that replay their corpus.
$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) $(DEPS_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(DEPS_LIBS)

unit-bins: $(UNIT_BIN) $(REPLAY_BIN)

test: deps
	@$(MAKE) --no-print-directory check

check: all unit-bins
	@BUILD=$(BUILD) ./tests/run.sh

check-layers:
	@./scripts/check-layers.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(KITE) server local --flows examples/flows

FUZZ_SECONDS ?= 60
FUZZ_BUILD := build-fuzz
fuzz: deps
	@mkdir -p $(FUZZ_BUILD)
	@for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  echo "fuzz: building $$n"; \
	  clang -std=gnu11 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	    $(DEPS_CFLAGS) -o $(FUZZ_BUILD)/$$n $$f $(LIB_SRC) $(DEPS_LIBS) || exit 1; \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$n; \
	  $(FUZZ_BUILD)/$$n -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$(basename $$b)"; KITE=$(KITE) $$b || exit 1; done
	@for b in bench/bench_*.sh; do echo "== $$(basename $$b)"; KITE=$(KITE) bash $$b || exit 1; done

valgrind: unit-bins
	@for t in $(UNIT_BIN); do valgrind -q --error-exitcode=99 --leak-check=full $$t || exit 1; done

clean:
	rm -rf build build-* 

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

# ---- the web UI: ui/ (TypeScript) bundled by esbuild into build/ui/ (index.html, app.js,
# app.css and their .gz), then linked into kite as a generated table (scripts/ui_assets.sh,
# src/server/ui.c). Without node or ui/node_modules (scripts/setup.sh runs npm ci), a bundle
# built before is kept; with none, kite answers /ui/ with a message saying how to build it.
UI_DIR  := build/ui
UI_SRC  := $(shell find ui -path ui/node_modules -prune -o -type f -print 2>/dev/null)
UI_GEN  := $(BUILD)/gen/ui_assets.c
UI_OBJ  := $(BUILD)/gen/ui_assets.o
$(UI_DIR)/.stamp: $(UI_SRC)
	@mkdir -p $(UI_DIR)
	@if command -v node >/dev/null 2>&1 && [ -d ui/node_modules/esbuild ]; then \
	  node ui/build.mjs $(UI_DIR) || exit 1; \
	elif [ -f $(UI_DIR)/index.html ]; then \
	  echo "ui: node or ui/node_modules missing (scripts/setup.sh): keeping the bundle built before"; \
	else \
	  echo "ui: node or ui/node_modules missing (scripts/setup.sh): kite is built without its web UI"; \
	fi
	@touch $@
$(UI_GEN): $(UI_DIR)/.stamp scripts/ui_assets.sh
	@mkdir -p $(dir $@)
	./scripts/ui_assets.sh $(UI_DIR) > $@.tmp && mv $@.tmp $@
$(UI_OBJ): $(UI_GEN) src/server/ui_assets.h
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(KITE): $(UI_OBJ)
# linked beside main.o: the recipe of $(KITE) expands MAIN_OBJ when it runs
MAIN_OBJ += $(UI_OBJ)
ui: $(UI_DIR)/.stamp
.PHONY: ui

# ---- the sandbox's init (src/util/sandbox_init.c): every sandbox's PID 1, a static program
# without libc built with its own flags (no sanitizer: it has no libc to report through),
# embedded in sandbox.o (.incbin) and exec'd by kite from a memfd.
SBX_INIT := $(BUILD)/gen/sandbox_init
$(SBX_INIT): src/util/sandbox_init.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -DKITE_SANDBOX_INIT -Os -static -nostdlib -ffreestanding -fno-stack-protector \
	  -fno-asynchronous-unwind-tables -fno-pie -no-pie -s -Wall -Wextra -Werror -o $@ $<
$(BUILD)/src/util/sandbox.o: $(SBX_INIT)
$(BUILD)/src/util/sandbox.o: ALL_CFLAGS += -DKITE_SANDBOX_INIT_ELF='"$(SBX_INIT)"'
$(SBX_INIT): src/util/sandbox_sys.h

# ---- the seed of a new SQLite store (scripts/store_seed.c): the schema of every migration
# in a database file, embedded in sqlite.o (.incbin) and written as a new data folder's
# kite.db instead of running the migrations there.
STORE_SEED := $(BUILD)/gen/store_seed.db
$(BUILD)/gen/store_seed: scripts/store_seed.c $(BUILD)/src/store/migrations_sqlite.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/src/store/migrations_sqlite.o -lsqlite3
$(STORE_SEED): $(BUILD)/gen/store_seed
	$(BUILD)/gen/store_seed $@
$(BUILD)/src/store/sqlite.o: $(STORE_SEED)
$(BUILD)/src/store/sqlite.o: ALL_CFLAGS += -DKITE_STORE_SEED='"$(STORE_SEED)"'
