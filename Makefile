# hookline: one Makefile for the daemons, the CLI, the tests and the local stack.
#
#   make                 release build into build/release/bin
#   make SANITIZE=1      ASan+UBSan build into build/asan/bin (what the tests use)
#   make WERROR=1        warnings are errors (CI)
#   make run | up | down | test | unit | integration | fuzz | mutants | bench | chaos | clean
#   make k8s-check       the Helm chart rendered, linted and validated (no cluster needed)
#   make cluster-test    the three-broker Kafka test (slow; not part of make test)
#   make format | format-check | check-config | check-includes | check-providers
.DELETE_ON_ERROR:

CC       ?= cc
PKGS     := rdkafka libmicrohttpd jansson libpq libcrypto libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wcast-qual -Wwrite-strings -Wundef \
        -Wnull-dereference -Wimplicit-fallthrough
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -I. $(WARN) $(PKG_CFLAGS)

ifeq ($(SANITIZE),1)
  VARIANT  := asan
  CFLAGS_V := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS_V := -fsanitize=address,undefined
else
  VARIANT  := release
  CFLAGS_V := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
  LDFLAGS_V := -pie -Wl,-z,relro,-z,now
endif
ifeq ($(WERROR),1)
  CFLAGS_V += -Werror
endif

BUILD   := build/$(VARIANT)
BIN     := $(BUILD)/bin
ALL_CFLAGS  := $(CFLAGS_BASE) $(CFLAGS_V) $(CFLAGS)
ALL_LDFLAGS := $(LDFLAGS_V) $(LDFLAGS)
LIBS    := $(PKG_LIBS) -lpthread -lm

LIB_SRC   := $(wildcard common/*.c) $(wildcard providers/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBHL     := $(BUILD)/libhookline.a
# The stages' modules without their main(), so unit tests can link pure parts
# (envelope building, routing helpers) from an archive that pulls only what is used.
STAGE_SRC := $(filter-out %/main.c,$(wildcard ingress/*.c router/*.c forwarder/*.c syncer/*.c api/*.c))
STAGES_LIB := $(BUILD)/libstages.a
MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))
MIGRATIONS_C := $(BUILD)/gen/migrations.c

DAEMONS := ingress router forwarder syncer api
# The API serves its console and OpenAPI document from the binary (api/embed-assets.sh).
API_ASSETS := api/openapi.json $(sort $(wildcard api/console/*))
api_EXTRA_OBJ := $(BUILD)/obj/gen/api_assets.o
# Test tools (not installed): reading and writing topics with headers, for the suite.
TOOLS := $(BUILD)/tools/hookline-topic-tool
PROGRAMS := $(DAEMONS:%=$(BIN)/hookline-%) $(BIN)/hookline

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean test unit integration up down run deps format format-check fuzz mutants bench chaos check-config \
        check-includes check-providers k8s-check cluster-test
all: check-includes $(PROGRAMS) $(TOOLS)

# The dependency rule (docs/architecture.md): a stage includes common/ and providers/
# headers and its own, never another stage's; common/ and providers/ include no stage.
STAGES := ingress router forwarder syncer api cli
STAGE_RE := ($(subst $(eval) ,|,$(strip $(STAGES))))
check-includes:
	@bad=$$(for d in $(STAGES) common providers; do \
	    grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"$(STAGE_RE)/' $$d/*.c $$d/*.h 2>/dev/null \
	        | grep -vE "#[[:space:]]*include[[:space:]]*\"$$d/"; \
	done); \
	if [ -n "$$bad" ]; then echo "a stage includes another stage's header (or common/ a stage's):"; \
	    echo "$$bad"; exit 1; fi

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBHL): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(STAGES_LIB): $(STAGE_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

define daemon_rule
$(BIN)/hookline-$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c)) $($(1)_EXTRA_OBJ) $(LIBHL)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

$(BUILD)/tools/hookline-topic-tool: $(BUILD)/obj/tests/tools/topic_tool.o $(LIBHL)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Migrations are compiled into the CLI so that `hookline migrate` needs no files.
$(MIGRATIONS_C): $(MIGRATIONS) deploy/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh deploy/embed-migrations.sh $(MIGRATIONS) > $@

$(BUILD)/gen/api_assets.c: $(API_ASSETS) api/embed-assets.sh
	@mkdir -p $(dir $@)
	sh api/embed-assets.sh $(API_ASSETS) > $@

$(BUILD)/obj/gen/api_assets.o: $(BUILD)/gen/api_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/migrations.o: $(MIGRATIONS_C)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BIN)/hookline: $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cli/*.c)) $(BUILD)/obj/gen/migrations.o $(LIBHL)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# libssl only for the tests' own loopback HTTPS servers (test_remote_keys).
$(BUILD)/tests/%: tests/unit/%.c $(STAGES_LIB) $(LIBHL)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $^ $(ALL_LDFLAGS) $(LIBS) \
	    $(shell pkg-config --libs cmocka libssl)

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- tests -----------------------------------------------------------------
# `make test` is what CI runs: dependencies, sanitizer build, unit tests, then the
# integration suite against a real Kafka broker and a real PostgreSQL server.
deps:
	sh deploy/local/install-deps.sh

unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS)

# Fuzzing: `make fuzz` runs each libFuzzer target for FUZZ_SECONDS; `make test` runs
# them briefly so a parser regression found by the seeds fails CI.
FUZZ_SECONDS ?= 60
fuzz:
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

test: deps
	$(MAKE) format-check
	$(MAKE) SANITIZE=1 all unit check-config check-providers
	bash tests/mutants/run.sh --level unit
	sh deploy/k8s/check.sh
	bash tests/fuzz/run.sh 10
	sh tests/run-integration.sh

# Each daemon's configuration table parses (with the environment it is run in).
check-config: $(DAEMONS:%=$(BIN)/hookline-%)
	@for d in $(DAEMONS); do $(BIN)/hookline-$$d --check-config >/dev/null || { echo "hookline-$$d --check-config failed"; exit 1; }; done
	@echo "check-config: $(DAEMONS) parse their configuration"

# The providers in the code, in docs/providers.md and in tests/providers/ agree.
check-providers: $(BIN)/hookline
	python3 tests/check-providers.py $(BIN)/hookline

# Formatting: .clang-format, for Debian 12's clang-format 14 (deploy/local/install-deps.sh).
CLANG_FORMAT ?= clang-format
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

format-check:
	@$(CLANG_FORMAT) --version | grep -q 'version 14\.' || echo "format-check: not clang-format 14: results may differ"
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRC)

# Mutation check: each planted bug of tests/mutants/mutants.txt, applied to a scratch copy
# of the tree, must fail its test (`make test` runs the unit-level ones, in seconds).
mutants:
	$(MAKE) SANITIZE=1 all unit
	bash tests/mutants/run.sh

# Kubernetes, checked here without a cluster: the chart rendered with representative
# values into build/k8s/, helm lint, every object validated against the API schemas, KEDA's
# objects checked structurally, the configuration documented and consistent. Builds helm
# from its Go module and installs kubernetes-validate from PyPI once (deploy/k8s/).
k8s-check:
	sh deploy/k8s/check.sh

# A three-node KRaft cluster, one broker SIGKILLed under load (tests/integration/
# test_kafka_cluster.py; about 3 minutes, so only on demand).
cluster-test:
	$(MAKE) SANITIZE=1 all
	HOOKLINE_TEST_CLUSTER=1 sh tests/run-integration.sh -k kafka_cluster

integration:
	$(MAKE) SANITIZE=1 all
	sh tests/run-integration.sh

# Chaos: webhooks at a steady rate through a stack of its own while each daemon, the
# broker and PostgreSQL are killed and restarted and the app fails; prints what was
# lost (must be 0) and duplicated (build/chaos/summary.json). `make SANITIZE=1 chaos`
# runs the sanitizer build; CHAOS_ARGS passes options (--duration, --rate, --faults).
chaos: deps
	$(MAKE) all
	HOOKLINE_BIN_DIR=$(CURDIR)/$(BIN) sh tests/chaos/run.sh $(CHAOS_ARGS)

# ---- local stack -----------------------------------------------------------
up: deps
	$(MAKE) all
	sh deploy/local/stack.sh up

down:
	sh deploy/local/stack.sh down

run: deps
	$(MAKE) all
	sh deploy/local/demo.sh

# Benchmarks: each figure is reported next to a baseline measured in the same run.
bench: deps
	sh bench/install-deps.sh
	$(MAKE) all
	sh bench/run.sh

clean:
	rm -rf build
