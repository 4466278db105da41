# jbus: broker (jbusd), shared wire codec (client-lib/), tests.
#   make            build everything into build/
#   make run        build and run jbusd in the foreground
#   make check      build and run the whole test suite
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan (build/sanitize/)
#   make check-valgrind     the same under valgrind memcheck, with every jbusd and jbus
#   make fuzz       the libFuzzer targets, FUZZ_SECONDS (60) each
#   make bench-insn broker instructions per routed message vs bench/insn-budget
#   make bench-peers jbus, redis and mosquitto side by side (BENCH_PEERS_ARGS=--smoke)
#   make install    PREFIX (/usr/local), DESTDIR; the systemd units go to
#                   SYSTEMDUNITDIR and SYSTEMDUSERUNITDIR (PREFIX/lib/systemd/...)
#   make check-man  lint the man pages (mandoc -T lint; any message fails)
#   make dist       jbus-VERSION.tar.gz of the committed tree; distcheck builds and
#                   checks it unpacked in build/distcheck/
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
DEPS_OK := $(shell $(PKG_CONFIG) --exists json-c check 2>/dev/null && command -v curl >/dev/null \
	&& echo yes)
ifneq ($(DEPS_OK),yes)
$(info jbus: json-c, check or curl missing; running scripts/install-deps.sh)
DEPS_RC := $(shell ./scripts/install-deps.sh >&2; echo $$?)
DEPS_OK := $(shell $(PKG_CONFIG) --exists json-c check 2>/dev/null && command -v curl >/dev/null \
	&& echo yes)
ifneq ($(DEPS_OK),yes)
$(error jbus: json-c, check or curl still missing (install-deps exit $(DEPS_RC)); see scripts/install-deps.sh)
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

# libjbus: the codec plus the connection code; only jbus.h's API is exported.
SONAME    := libjbus.so.0
LIB_SRC   := client-lib/conn.c client-lib/frame.c client-lib/ops.c client-lib/sync.c \
	client-lib/dgram.c \
	client-lib/request.c client-lib/error.c
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(CODEC_OBJ)
LIB_SO    := $(BUILD)/$(SONAME)
LIB_A     := $(BUILD)/libjbus.a

BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c))
BROKER_OBJ := $(BROKER_SRC:%.c=$(BUILD)/obj/%.o)
BROKER_LIB := $(BUILD)/libjbusd.a

# jbus, the command-line tool: links the static library.
TOOLS_SRC := $(wildcard tools/*.c)
TOOLS_OBJ := $(TOOLS_SRC:%.c=$(BUILD)/obj/%.o)

EXAMPLES_SRC := $(wildcard examples/*.c)
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLES_SRC))

TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/check_*.c)
INTEG_SRC := $(wildcard tests/integration/check_*.c)
CLIENT_SRC := $(wildcard tests/client/check_*.c)
CLI_SRC := $(wildcard tests/cli/check_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC)) \
	$(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(INTEG_SRC)) \
	$(patsubst tests/client/%.c,$(BUILD)/tests/%,$(CLIENT_SRC)) \
	$(patsubst tests/cli/%.c,$(BUILD)/tests/%,$(CLI_SRC))

# Installation (DESTDIR for staging, PREFIX for the layout).
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man
# systemd units (contrib/systemd/): under PREFIX by default; distributions
# point these at their own directories (pkg-config --variable=systemdsystemunitdir systemd)
SYSTEMDUNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSTEMDUSERUNITDIR ?= $(PREFIX)/lib/systemd/user
SYSUSERSDIR        ?= $(PREFIX)/lib/sysusers.d

# the exported functions, as jbus.h declares them (link pages to libjbus(3))
LPAREN := (
API_FUNCS := $(shell sed -n 's/^JBUS_EXPORT .*[ *]\(jbus_[a-z0-9_]*\)[$(LPAREN)].*/\1/p' \
	client-lib/include/jbus.h | sort -u)

BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions

.PHONY: all run check check-valgrind valgrind-deps systemd-deps clean distclean help examples install \
	uninstall fuzz fuzz-deps bench bench-insn bench-peers peers-deps man check-man man-deps \
	dist distcheck
.SECONDARY:
all: $(BUILD)/jbusd $(LIB_SO) $(BUILD)/libjbus.so $(LIB_A) $(BUILD)/jbus $(BUILD)/jbus.pc man

$(BUILD)/obj/client-lib/%.o: client-lib/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(JSONC_CFLAGS) -DJBUS_BUILDING -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/obj/broker/%.o: broker/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(JSONC_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(JSONC_CFLAGS) -Itools -c -o $@ $<

$(BUILD)/obj/examples/%.o: examples/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(JSONC_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) $(JSONC_CFLAGS) -Itests/lib -c -o $@ $<

$(BROKER_LIB): $(BROKER_OBJ) $(CODEC_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ) client-lib/libjbus.sym
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=client-lib/libjbus.sym -Wl,--no-undefined \
		-o $@ $(LIB_OBJ) $(JSONC_LIBS)

$(BUILD)/libjbus.so: $(LIB_SO)
	$(Q)ln -sf $(SONAME) $@

$(LIB_A): $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/jbusd: $(BUILD)/obj/broker/main.o $(BROKER_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(JSONC_LIBS) -lm

$(BUILD)/jbus: $(TOOLS_OBJ) $(LIB_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(TOOLS_OBJ) $(LIB_A) $(JSONC_LIBS) -lm

# jbus.pc for the PREFIX given now: install writes it anew, since PREFIX may
# differ from the one the build used.
gen_pc = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	client-lib/jbus.pc.in > $(1)

# A service unit with the jbusd that install puts in SBINDIR.
gen_unit = sed -e 's|@SBINDIR@|$(SBINDIR)|g' $(1) > $(2) && chmod 0644 $(2)

$(BUILD)/jbus.pc: client-lib/jbus.pc.in Makefile
	$(Q)$(call gen_pc,$@)

# Man pages: man/<page>.<section> with @VERSION@ filled in, into $(BUILD)/man/.
MAN_SRC   := $(wildcard man/*.[1-8])
MAN_PAGES := $(MAN_SRC:man/%=$(BUILD)/man/%)

$(BUILD)/man/%: man/% Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@VERSION@|$(VERSION)|g' $< > $@

man: $(MAN_PAGES)

# mandoc -T lint reports warnings and style notes alike; any line it prints fails.
# man-deps also installs zsh, whose completion the suite checks when it is there.
man-deps:
	@command -v mandoc >/dev/null 2>&1 && command -v zsh >/dev/null 2>&1 \
		|| ./scripts/install-deps.sh --man

check-man: man-deps $(MAN_PAGES)
	@out=$$(mandoc -T lint $(MAN_PAGES) 2>&1); rc=$$?; \
		if [ -n "$$out" ] || [ $$rc -ne 0 ]; then printf '%s\n' "$$out"; \
			echo "check-man: mandoc -T lint: not clean (exit $$rc)"; exit 1; fi; \
		echo "check-man: $(words $(MAN_PAGES)) pages lint-clean"

# Examples link the shared library, found next to them through the rpath.
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(LIB_SO) $(BUILD)/libjbus.so
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< -L$(BUILD) -ljbus -Wl,-rpath,'$$ORIGIN/..' $(JSONC_LIBS)

examples: $(EXAMPLES)

# Library suites link the shared library: they prove the exported API is enough.
$(BUILD)/tests/%: $(BUILD)/obj/tests/client/%.o $(TESTLIB_OBJ) $(LIB_SO) $(BUILD)/libjbus.so
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(TESTLIB_OBJ) -L$(BUILD) -ljbus \
		-Wl,-rpath,'$$ORIGIN/..' $(CHECK_LIBS) $(JSONC_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/cli/%.o $(TESTLIB_OBJ) $(BROKER_LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(JSONC_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_OBJ) $(BROKER_LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(JSONC_LIBS) -lm

# the histogram of jbus bench, a tools/ module, has a unit test of its own
$(BUILD)/tests/check_bench_hist: $(BUILD)/obj/tools/bench_hist.o

$(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(TESTLIB_OBJ) $(BROKER_LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(JSONC_LIBS) -lm

run: $(BUILD)/jbusd
	$(abspath $(BUILD))/jbusd $(ARGS)

# check_activation also runs jbusd under the real systemd-socket-activate:
# installed on demand, and that one test skips (saying so) where it cannot be.
systemd-deps:
	@command -v systemd-socket-activate >/dev/null 2>&1 || ./scripts/install-deps.sh --systemd \
		|| echo "jbus: systemd-socket-activate not installed; check_activation skips its test"

# Every suite runs even if one fails; the last line sums them up.
check: systemd-deps all $(EXAMPLES) $(TEST_BINS)
	@JBUSD=$(abspath $(BUILD))/jbusd JBUS=$(abspath $(BUILD))/jbus \
		JBUS_EXAMPLES=$(abspath $(BUILD))/examples JBUS_SRCDIR=$(CURDIR) \
		BUILD=$(BUILD) sh tests/run.sh $(TEST_BINS)

# valgrind memcheck on every suite and on every jbusd, jbus and example the
# tests start ($JT_WRAP, read by tests/lib), with the tests' deadlines scaled
# by VG_TIME_SCALE. Any error or definite/indirect leak makes the process
# exit 99, which fails its test or suite; each process logs to
# $(VG_LOGS)/<id>.<pid>.log ($JT_WRAP_ID: the suite, or a start time set by
# tests/lib, as pids are reused), and the logs with errors are shown at the end.
VALGRIND      ?= valgrind
VG_TIME_SCALE ?= 20
VG_LOGS       := $(abspath $(BUILD))/valgrind
VALGRIND_OPTS := -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	--num-callers=30 --vgdb=no --suppressions=$(CURDIR)/tests/valgrind.supp \
	--log-file=$(VG_LOGS)/%q{JT_WRAP_ID}.%p.log

valgrind-deps:
	@command -v $(VALGRIND) >/dev/null 2>&1 || ./scripts/install-deps.sh --valgrind

check-valgrind: valgrind-deps systemd-deps all $(EXAMPLES) $(TEST_BINS)
ifeq ($(SANITIZE),1)
	$(error check-valgrind runs the plain build: no SANITIZE=1)
endif
	@rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS) && chmod 1777 $(VG_LOGS)
	@JT_WRAP="$(VALGRIND) $(VALGRIND_OPTS)" JT_TIME_SCALE=$(VG_TIME_SCALE) \
		JBUSD=$(abspath $(BUILD))/jbusd JBUS=$(abspath $(BUILD))/jbus \
		JBUS_EXAMPLES=$(abspath $(BUILD))/examples JBUS_SRCDIR=$(CURDIR) \
		BUILD=$(BUILD) sh tests/run.sh $(TEST_BINS); rc=$$?; \
		find $(VG_LOGS) -name '*.log' -empty -delete; \
		for f in $$(grep -l '^==' $(VG_LOGS)/*.log 2>/dev/null); do \
			echo "--- $$f"; head -n 60 "$$f"; done; \
		echo "valgrind: $$(grep -l '^==' $(VG_LOGS)/*.log 2>/dev/null | wc -l) logs with" \
			"errors, $$(ls $(VG_LOGS) | wc -l) not empty, in $(VG_LOGS)"; \
		exit $$rc

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(BUILD)/jbus $(DESTDIR)$(BINDIR)/jbus
	install -m 0755 $(BUILD)/jbusd $(DESTDIR)$(SBINDIR)/jbusd
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libjbus.so.$(VERSION)
	ln -sf libjbus.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libjbus.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libjbus.a
	install -m 0644 client-lib/include/jbus.h $(DESTDIR)$(INCLUDEDIR)/jbus.h
	$(call gen_pc,$(DESTDIR)$(PKGCONFIGDIR)/jbus.pc)
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSTEMDUSERUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 contrib/systemd/system/jbusd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/jbusd.socket
	$(call gen_unit,contrib/systemd/system/jbusd.service.in,$(DESTDIR)$(SYSTEMDUNITDIR)/jbusd.service)
	install -m 0644 contrib/systemd/user/jbusd.socket \
		$(DESTDIR)$(SYSTEMDUSERUNITDIR)/jbusd.socket
	$(call gen_unit,contrib/systemd/user/jbusd.service.in,$(DESTDIR)$(SYSTEMDUSERUNITDIR)/jbusd.service)
	install -m 0644 contrib/systemd/jbus.sysusers $(DESTDIR)$(SYSUSERSDIR)/jbus.conf
	@for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		echo install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	@# man jbus_conn_new and the like: one .so link page per exported function
	@for f in $(API_FUNCS); do \
		echo '.so man3/libjbus.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3; done
	@echo "installed $(words $(API_FUNCS)) link pages to libjbus(3) in $(DESTDIR)$(MANDIR)/man3"
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0644 contrib/completion/jbus.bash $(DESTDIR)$(BASHCOMPDIR)/jbus
	install -m 0644 contrib/completion/_jbus $(DESTDIR)$(ZSHCOMPDIR)/_jbus

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/jbus $(DESTDIR)$(SBINDIR)/jbusd \
		$(DESTDIR)$(LIBDIR)/libjbus.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libjbus.so $(DESTDIR)$(LIBDIR)/libjbus.a \
		$(DESTDIR)$(INCLUDEDIR)/jbus.h $(DESTDIR)$(PKGCONFIGDIR)/jbus.pc \
		$(DESTDIR)$(SYSTEMDUNITDIR)/jbusd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/jbusd.service \
		$(DESTDIR)$(SYSTEMDUSERUNITDIR)/jbusd.socket \
		$(DESTDIR)$(SYSTEMDUSERUNITDIR)/jbusd.service $(DESTDIR)$(SYSUSERSDIR)/jbus.conf \
		$(DESTDIR)$(BASHCOMPDIR)/jbus $(DESTDIR)$(ZSHCOMPDIR)/_jbus \
		$(foreach m,$(MAN_SRC),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -f $(foreach f,$(API_FUNCS),$(DESTDIR)$(MANDIR)/man3/$(f).3)

# Fuzzing (clang's libFuzzer; installed on demand): each target runs for
# FUZZ_SECONDS from its seeds in fuzz/corpus/<target>/ (read only; what it
# finds goes to build/fuzz/corpus/<target>/), and any crash, leak or timeout
# (FUZZ_TIMEOUT s for one input) fails. A new target fuzz/fuzz_<name>.c is
# <name> in FUZZ_TARGETS plus one line giving what it links besides the codec:
#   $(FUZZ_DIR)/fuzz_<name>: broker/<module>.c
# (FUZZ_OPTS_<name> may add libFuzzer options). See fuzz/README.md.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 10
FUZZ_DIR     := build/fuzz
# clang's -Wformat=2 also flags vsnprintf(fmt, ap) in helpers without a format
# attribute (broker/client.c verror), which gcc accepts: not an error here
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	$(CPPFLAGS_ALL) $(WARN) -Wno-format-nonliteral
FUZZ_CODEC   := client-lib/wire.c client-lib/scan.c client-lib/topic.c
FUZZ_TARGETS := scan http frames topic broker policy

$(FUZZ_DIR)/fuzz_http: broker/http.c
$(FUZZ_DIR)/fuzz_topic: broker/router.c broker/htable.c
$(FUZZ_DIR)/fuzz_broker: $(BROKER_SRC) client-lib/sockpath.c
$(FUZZ_DIR)/fuzz_policy: broker/policy.c

FUZZ_OPTS_http := -max_len=12000

# every header as a prerequisite: a target is one compiler call, without .d files
FUZZ_HEADERS := $(wildcard broker/*.h client-lib/*.h client-lib/include/*.h fuzz/*.h)

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_CODEC) $(FUZZ_HEADERS)
	@mkdir -p $(@D)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(JSONC_CFLAGS) -o $@ $(filter %.c,$^) $(JSONC_LIBS) -lm

# clang alone is not enough: Debian's clang only recommends the runtime
# (libclang-rt-dev), so probe that a fuzzer links
fuzz-deps:
	@mkdir -p $(FUZZ_DIR)
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' | \
		$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o $(FUZZ_DIR)/.probe \
		>/dev/null 2>&1 || ./scripts/install-deps.sh --fuzz; rm -f $(FUZZ_DIR)/.probe

# Every target runs even if one fails; fuzz/run.sh prints one summary line
# per target and keeps its log in build/fuzz/<target>.log.
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	@rc=0; $(foreach t,$(FUZZ_TARGETS),FUZZ_DIR=$(FUZZ_DIR) sh fuzz/run.sh $(t) \
		$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) $(FUZZ_OPTS_$(t)) || rc=1;) exit $$rc

# Benchmarks (not part of make check): BENCH_ARGS are passed through.
$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -pthread -o $@ $< $(LDFLAGS_ALL) -pthread

bench: $(BUILD)/jbusd $(BUILD)/bench/dgram_bench
	JBUSD=$(abspath $(BUILD))/jbusd $(BUILD)/bench/dgram_bench $(BENCH_ARGS)

# Instructions per routed message under callgrind against bench/insn-budget
# (CI); INSN_UPDATE=1 rewrites the budget from this build's figures.
bench-insn: valgrind-deps $(BUILD)/jbusd $(BUILD)/bench/insn_client
	@sh scripts/insn-budget.sh $(BUILD)/jbusd $(BUILD)/bench/insn_client bench/insn-budget \
		$(if $(INSN_UPDATE),update,check)

# jbus, redis and mosquitto side by side (docs/performance.md, "Peers"); the
# peers are installed when missing. BENCH_PEERS_ARGS are passed through
# (--smoke: only check the drivers and servers). The workload runner and the
# jbus driver are those of jbus bench (tools/bench_*.c). The compile and link flags are read when make starts: bench-peers builds
# in a second make, after peers-deps may have installed them.
PEERS_CFLAGS := $(shell $(PKG_CONFIG) --cflags hiredis libmosquitto 2>/dev/null)
PEERS_LIBS   := $(shell $(PKG_CONFIG) --libs hiredis libmosquitto 2>/dev/null)
PEERS_SRC    := bench/peers.c bench/peer_server.c bench/peer_sock.c bench/peer_redis.c \
	bench/peer_mosq.c bench/peers_run.c
PEERS_OBJ    := $(PEERS_SRC:%.c=$(BUILD)/obj/%.o) \
	$(patsubst %,$(BUILD)/obj/tools/%.o,bench_work bench_role bench_hist bench_held bench_jbus cli)

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(PEERS_CFLAGS) -Itools -c -o $@ $<

$(BUILD)/bench/peers: $(PEERS_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(PEERS_OBJ) $(LIB_A) $(PEERS_LIBS) $(JSONC_LIBS) -lm

peers-deps:
	@$(PKG_CONFIG) --exists hiredis libmosquitto 2>/dev/null && \
		command -v redis-server >/dev/null 2>&1 && \
		{ command -v mosquitto || test -x /usr/sbin/mosquitto; } >/dev/null 2>&1 || \
		./scripts/install-deps.sh --peers

bench-peers: peers-deps
	@$(MAKE) --no-print-directory $(BUILD)/jbusd $(BUILD)/bench/peers
	JBUSD=$(abspath $(BUILD))/jbusd $(BUILD)/bench/peers $(BENCH_PEERS_ARGS)

# A release tarball of the committed tree (the version is VERSION above, and
# nowhere else); distcheck unpacks it elsewhere and runs make check there.
DIST := jbus-$(VERSION)

dist:
	@git rev-parse --git-dir >/dev/null 2>&1 || \
		{ echo "make dist: needs a git checkout (it packs the committed tree)" >&2; exit 1; }
	@git diff --quiet HEAD -- || echo "make dist: uncommitted changes are not in the tarball" >&2
	git archive --format=tar.gz --prefix=$(DIST)/ -o $(DIST).tar.gz HEAD
	@echo "$(DIST).tar.gz"

distcheck: dist
	rm -rf build/distcheck && mkdir -p build/distcheck
	tar -xzf $(DIST).tar.gz -C build/distcheck
	$(MAKE) -C build/distcheck/$(DIST) check
	@echo "$(DIST).tar.gz builds and passes make check when unpacked elsewhere"

clean:
	rm -rf build

distclean: clean

help:
	@sed -n '1,/^$$/p' Makefile

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
