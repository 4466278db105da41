# jbus: broker (jbusd), shared wire codec (client-lib/), tests.
#   make            build everything into build/
#   make run        build and run jbusd in the foreground
#   make check      build and run the whole test suite
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan (build/sanitize/)
#   WERROR=1        turn warnings into errors (CI does)

VERSION    := 0.1.0
CC         ?= cc
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local

ifeq ($(SANITIZE),1)
BUILD ?= build/sanitize
else
BUILD ?= build
endif
Q := $(if $(V),,@)

# Dependencies: install them when pkg-config cannot find them (not for clean).
ifneq ($(filter-out clean distclean help,$(or $(MAKECMDGOALS),all)),)
DEPS_OK := $(shell $(PKG_CONFIG) --exists json-c check 2>/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
$(info jbus: pkg-config cannot find json-c and check; running scripts/install-deps.sh)
DEPS_RC := $(shell ./scripts/install-deps.sh >&2; echo $$?)
DEPS_OK := $(shell $(PKG_CONFIG) --exists json-c check 2>/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
$(error jbus: json-c and check are still missing (install-deps exit $(DEPS_RC)); see scripts/install-deps.sh)
endif
endif
endif

JSONC_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-c 2>/dev/null)
JSONC_LIBS   := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wundef -Wwrite-strings -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Werror=format-security -Wimplicit-fallthrough \
	-Wvla -Wno-unused-parameter -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifeq ($(SANITIZE),1)
OPT := -O0 -g3 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN := -fsanitize=address,undefined
else
OPT := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDSAN :=
endif

CPPFLAGS_ALL := -std=c17 -D_GNU_SOURCE -DJBUS_VERSION=\"$(VERSION)\" -Iclient-lib \
	-Iclient-lib/include -Ibroker
CFLAGS_ALL := $(CPPFLAGS_ALL) $(OPT) $(WARN) -MMD -MP $(CFLAGS)
LDFLAGS_ALL := $(LDSAN) $(LDFLAGS)

# The wire codec: compiled once (position independent, for libjbus.so too),
# linked into the broker, the library and the tests.
CODEC_SRC := client-lib/wire.c client-lib/scan.c client-lib/topic.c client-lib/sockpath.c
CODEC_OBJ := $(CODEC_SRC:%.c=$(BUILD)/obj/%.o)

BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c))
BROKER_OBJ := $(BROKER_SRC:%.c=$(BUILD)/obj/%.o)
BROKER_LIB := $(BUILD)/libjbusd.a

TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/check_*.c)
INTEG_SRC := $(wildcard tests/integration/check_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC)) \
	$(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(INTEG_SRC))

.PHONY: all run check clean distclean help
.SECONDARY:
all: $(BUILD)/jbusd

$(BUILD)/obj/client-lib/%.o: client-lib/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/obj/broker/%.o: broker/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) $(JSONC_CFLAGS) -Itests/lib -c -o $@ $<

$(BROKER_LIB): $(BROKER_OBJ) $(CODEC_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(BUILD)/jbusd: $(BUILD)/obj/broker/main.o $(BROKER_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_OBJ) $(BROKER_LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(JSONC_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(TESTLIB_OBJ) $(BROKER_LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(JSONC_LIBS) -lm

run: $(BUILD)/jbusd
	$(abspath $(BUILD))/jbusd $(ARGS)

# Every suite runs even if one fails; the last line sums them up.
check: $(BUILD)/jbusd $(TEST_BINS)
	@JBUSD=$(CURDIR)/$(BUILD)/jbusd BUILD=$(BUILD) sh tests/run.sh $(TEST_BINS)

clean:
	rm -rf build

distclean: clean

help:
	@sed -n '1,/^$$/p' Makefile

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
